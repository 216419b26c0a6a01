import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=12, print_blob=True)
settings.load_profile("ci")


@pytest.fixture
def key():
    return jax.random.key(20261128)
