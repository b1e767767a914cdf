"""Generate the embedded synthetic action dataset in the UCF101 layout.

Run: python dataset_preparation/make_synthetic_ucf.py --root /tmp/synth
         --prepare /tmp/synth_prepared

Without --root it generates and prepares into the cache
($DELTASPARSE_HOME or ~/.deltasparse) and prints the prepared split folder.
See `deltasparse.data.datasets.synthetic_actions` for what the videos show.
"""

import sys

from deltasparse.data.datasets.synthetic_actions import main

if __name__ == "__main__":
    sys.exit(main())
