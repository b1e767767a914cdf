"""`deltasparse-prepare-ucf101` with a slow per-video step (SIGKILL test).

Run as a script: the spawned pool workers import it as `__mp_main__`, so
they run `slow_process_video` too (each video takes `SLOW_PREPARE_S` more
seconds), which leaves time to kill the parent while workers are busy.
"""

import os
import sys
import time

from deltasparse.data.datasets import ucf101
from deltasparse.data.datasets import ucf101_prepare

_process_video = ucf101._process_video


def slow_process_video(task):
    time.sleep(float(os.environ.get("SLOW_PREPARE_S", "5")))
    return _process_video(task)


ucf101._process_video = slow_process_video

if __name__ == "__main__":
    sys.exit(ucf101_prepare.main())
