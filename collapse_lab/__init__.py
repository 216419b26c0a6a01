"""collapse_lab: a JAX laboratory for model collapse (self-consuming resampling chains)."""

from importlib.metadata import PackageNotFoundError, version

from .chain import RunConfig as RunConfig
from .chain import RunResult as RunResult
from .chain import continue_run as continue_run
from .chain import run_chains as run_chains
from .check import check as check
from .check import format_table as format_table
from .experiment import Experiment as Experiment
from .experiment import load_experiment as load_experiment
from .experiment import resume as resume
from .experiment import run_experiment as run_experiment
from .families import FAMILIES as FAMILIES
from .families import Categorical as Categorical
from .families import Gaussian as Gaussian
from .families import GaussianMixture as GaussianMixture
from .families import NGram as NGram
from .families import Transformer as Transformer
from .families import random_markov_source as random_markov_source
from .families import zipf as zipf
from .families import zipf_mandelbrot as zipf_mandelbrot
from .family import AbstractFamily as AbstractFamily
from .io import load as load
from .io import load_sweep as load_sweep
from .io import save as save
from .policies import POLICIES as POLICIES
from .policies import Accumulate as Accumulate
from .policies import AccumulateSubsample as AccumulateSubsample
from .policies import Curated as Curated
from .policies import FixedReal as FixedReal
from .policies import Fresh as Fresh
from .policies import Mix as Mix
from .policies import Policy as Policy
from .policies import Refresh as Refresh
from .policies import Replace as Replace
from .policies import Verified as Verified
from .policies import Window as Window
from .policies import make_policy as make_policy
from .prediction import Prediction as Prediction
from .reduce import ReducedResult as ReducedResult
from .reduce import run_reduced as run_reduced
from .sampling import SamplingBias as SamplingBias

try:
    __version__ = version("collapse_lab")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+local"
