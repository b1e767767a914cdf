"""Prepare a Kinetics subset from its CSV (thin wrapper of its command).

Run: python dataset_preparation/prepare_kinetics.py
         --annotations /data/kinetics400/validate.csv
         --classes /data/kinetics400/train.csv --videos /data/k400/val
         --output /data/k400 --subset val

Same as `python -m deltasparse.data.datasets.kinetics ...`; see
`deltasparse.data.datasets.kinetics` for the layout it writes. The run is
resumable: interrupt it and start the same command again.
"""

import sys

from deltasparse.data.datasets.kinetics import main

if __name__ == "__main__":
    sys.exit(main())
