"""One small, fast configuration per registered family (contract, sharding and reduction tests).

Each entry builds ``(family, source, num_samples)``; every family in ``collapse_lab.FAMILIES``
must have one (a test enforces it).
"""

import numpy as np

import collapse_lab as cl


def gaussian_1d():
    fam = cl.Gaussian(dim=1, estimator="mle")
    return fam, fam.source(1.0, 2.0), 10


def gaussian_3d():
    fam = cl.Gaussian(dim=3, estimator="unbiased", temperature=0.9)
    cov = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.5]])
    return fam, fam.source([0.0, 1.0, 2.0], cov), 8


EXAMPLES = {
    "gaussian": gaussian_1d,
    "gaussian-3d": gaussian_3d,
}
