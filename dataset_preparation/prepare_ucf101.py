"""Prepare an official UCF101 split (thin wrapper of the package command).

Run: python dataset_preparation/prepare_ucf101.py --source /data/UCF-101
         --lists /data/ucfTrainTestlist --output /data/ucf101 --split 1

Same as the installed `deltasparse-prepare-ucf101` command; see
`deltasparse.data.datasets.ucf101.prepare_ucf101` for the layout it writes.
"""

import sys

from deltasparse.data.datasets.ucf101_prepare import main

if __name__ == "__main__":
    sys.exit(main())
