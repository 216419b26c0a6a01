"""Run one reproduction: ``python benchmarks/reproductions/koyejo_gaussian.py [flags]``.

The experiment, published values and theory live in collapse_lab/reproductions/koyejo_gaussian.py.
"""

import sys

from collapse_lab.reproductions import main

if __name__ == "__main__":
    sys.exit(main(["koyejo_gaussian", *sys.argv[1:]]))
