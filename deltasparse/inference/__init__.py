"""Running trained video models on videos (the annotated demo video).

- `demo`: `annotate_video` (top-k labels of sliding windows drawn on every
  frame, written as an MJPG `.avi` plus a JSON of per-window predictions)
  and `main`, the `deltasparse-demo` command.
- `streaming`: `StreamingDeltaModel`, frame-by-frame inference of a delta
  model that computes only what changed since the previous frame.
"""

from deltasparse.inference.demo import annotate_video
from deltasparse.inference.demo import draw_predictions
from deltasparse.inference.demo import main
from deltasparse.inference.demo import to_probabilities
from deltasparse.inference.streaming import StreamingDeltaModel

__all__ = [
    "StreamingDeltaModel",
    "annotate_video",
    "draw_predictions",
    "main",
    "to_probabilities",
]
