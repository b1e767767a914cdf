"""Running trained video models on videos (the annotated demo video).

- `demo`: `annotate_video` (top-k labels of sliding windows drawn on every
  frame, written as an MJPG `.avi` plus a JSON of per-window predictions)
  and `main`, the `deltasparse-demo` command.
"""

from deltasparse.inference.demo import annotate_video
from deltasparse.inference.demo import draw_predictions
from deltasparse.inference.demo import main
from deltasparse.inference.demo import to_probabilities

__all__ = ["annotate_video", "draw_predictions", "main", "to_probabilities"]
