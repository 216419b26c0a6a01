"""Run one reproduction: ``python benchmarks/reproductions/dohmatob_regression.py [flags]``.

The experiment, published values and theory live in collapse_lab/reproductions/dohmatob_regression.py.
"""

import sys

from collapse_lab.reproductions import main

if __name__ == "__main__":
    sys.exit(main(["dohmatob_regression", *sys.argv[1:]]))
