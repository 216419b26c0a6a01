"""Run one reproduction: ``python benchmarks/reproductions/tale_of_tails.py [flags]``.

The experiment, published values and theory live in collapse_lab/reproductions/tale_of_tails.py.
"""

import sys

from collapse_lab.reproductions import main

if __name__ == "__main__":
    sys.exit(main(["tale_of_tails", *sys.argv[1:]]))
