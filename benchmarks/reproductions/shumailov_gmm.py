"""Run one reproduction: ``python benchmarks/reproductions/shumailov_gmm.py [flags]``.

The experiment, published values and theory live in collapse_lab/reproductions/shumailov_gmm.py.
"""

import sys

from collapse_lab.reproductions import main

if __name__ == "__main__":
    sys.exit(main(["shumailov_gmm", *sys.argv[1:]]))
