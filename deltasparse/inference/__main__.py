"""`python -m deltasparse.inference VIDEO --model MODEL`: the demo command."""

import sys

from deltasparse.inference.demo import main

if __name__ == "__main__":
    sys.exit(main())
