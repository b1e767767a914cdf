"""List your own videos in a list file (thin wrapper of the package command).

Run: python dataset_preparation/prepare_video_list.py --source /data/my_videos
         --output /data/my_set --name train

Same as `python -m deltasparse.data.datasets.list_files ...`; see
`deltasparse.data.datasets.list_files` for the layout it writes. The run is
resumable: interrupt it and start the same command again.
"""

import sys

from deltasparse.data.datasets.list_files import main

if __name__ == "__main__":
    sys.exit(main())
