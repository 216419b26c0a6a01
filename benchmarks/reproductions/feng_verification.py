"""Run one reproduction: ``python benchmarks/reproductions/feng_verification.py [flags]``.

The experiment, published values and theory live in collapse_lab/reproductions/feng_verification.py.
"""

import sys

from collapse_lab.reproductions import main

if __name__ == "__main__":
    sys.exit(main(["feng_verification", *sys.argv[1:]]))
