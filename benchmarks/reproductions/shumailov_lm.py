"""Run one reproduction: ``python benchmarks/reproductions/shumailov_lm.py [flags]``.

The experiment, published values and theory live in collapse_lab/reproductions/shumailov_lm.py.
"""

import sys

from collapse_lab.reproductions import main

if __name__ == "__main__":
    sys.exit(main(["shumailov_lm", *sys.argv[1:]]))
