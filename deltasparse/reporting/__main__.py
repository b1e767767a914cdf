"""`python -m deltasparse.reporting PATH ...`: same as `deltasparse-results`."""

import sys

from deltasparse.reporting.cli import main

if __name__ == "__main__":
    sys.exit(main())
