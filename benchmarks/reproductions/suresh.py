"""Run one reproduction: ``python benchmarks/reproductions/suresh.py [flags]``.

The experiment, published values and theory live in collapse_lab/reproductions/suresh.py.
"""

import sys

from collapse_lab.reproductions import main

if __name__ == "__main__":
    sys.exit(main(["suresh", *sys.argv[1:]]))
