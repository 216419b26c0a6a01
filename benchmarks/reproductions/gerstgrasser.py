"""Run one reproduction: ``python benchmarks/reproductions/gerstgrasser.py [flags]``.

The experiment, published values and theory live in collapse_lab/reproductions/gerstgrasser.py.
"""

import sys

from collapse_lab.reproductions import main

if __name__ == "__main__":
    sys.exit(main(["gerstgrasser", *sys.argv[1:]]))
