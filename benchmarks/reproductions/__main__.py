"""``python -m benchmarks.reproductions [NAME ...] [flags]``: same as
``python -m collapse_lab.reproductions`` (writes reproductions/report.md, results.csv, figures)."""

import sys

from collapse_lab.reproductions import main

sys.exit(main())
