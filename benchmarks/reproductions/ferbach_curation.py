"""Run one reproduction: ``python benchmarks/reproductions/ferbach_curation.py [flags]``.

The experiment, published values and theory live in collapse_lab/reproductions/ferbach_curation.py.
"""

import sys

from collapse_lab.reproductions import main

if __name__ == "__main__":
    sys.exit(main(["ferbach_curation", *sys.argv[1:]]))
