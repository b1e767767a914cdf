"""Prepare an official HMDB51 split (thin wrapper of the package command).

Run: python dataset_preparation/prepare_hmdb51.py --source /data/hmdb51_org
         --splits /data/testTrainMulti_7030_splits --output /data/hmdb51 --split 1

Same as `python -m deltasparse.data.datasets.hmdb51 ...`; see
`deltasparse.data.datasets.hmdb51` for the layout it writes. The run is
resumable: interrupt it and start the same command again.
"""

import sys

from deltasparse.data.datasets.hmdb51 import main

if __name__ == "__main__":
    sys.exit(main())
