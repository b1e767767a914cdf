"""Prepare a Something-Something V2 subset (thin wrapper of its command).

Run: python dataset_preparation/prepare_something_something.py
         --labels /data/something-something-v2-labels.json
         --annotations /data/something-something-v2-validation.json
         --videos /data/20bn-something-something-v2 --output /data/sthv2
         --subset val

Same as `python -m deltasparse.data.datasets.something_something ...`; see
`deltasparse.data.datasets.something_something` for the layout it writes. The run is
resumable: interrupt it and start the same command again.
"""

import sys

from deltasparse.data.datasets.something_something import main

if __name__ == "__main__":
    sys.exit(main())
