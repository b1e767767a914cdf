"""Reading frames from video files with OpenCV (runs inside `tf.numpy_function`)."""


import cv2
import numpy as np


# --------------------------------------------------------------------------
# Video decoding (runs inside tf.numpy_function)
# --------------------------------------------------------------------------


def read_video_frames(path, frame_indices, seek=False):
    """Decodes the given 0-based frames of a video with OpenCV.

    Frames are returned in the order asked, repeats included
    (`[5, 2]` gives frame 5, then frame 2): the distinct indices are decoded
    once, in increasing order, in a single pass over the file.

    By default decodes sequentially from the start (skipped frames are only
    `grab`bed), which is exact for every file, like the original generator.
    With `seek`, it first jumps to the smallest wanted frame
    (`CAP_PROP_POS_FRAMES`; OpenCV's FFmpeg backend seeks to the previous
    key frame and decodes forward by timestamps), which is much faster deep
    into long videos but relies on sane timestamps. If the file ends before
    a requested frame (headers can overstate the count; `index_clips`
    checks this when it indexes), the last decoded frame is used.

    Args:
        path: str or bytes.
        frame_indices: sequence of int >= 0, in any order.
        seek: bool, seek to the first frame instead of decoding up to it.

    Returns:
        uint8 array `(len(frame_indices), H, W, 3)`, RGB.

    Raises:
        ValueError: if an index is negative, or if no frame can be decoded
            (the message names the file).

    Example:
    >>> read_video_frames("v.avi", [0, 1]).shape  # doctest: +SKIP
    (2, 240, 320, 3)
    """
    if isinstance(path, bytes):
        path = path.decode("utf-8")
    wanted = [int(k) for k in frame_indices]
    if any(k < 0 for k in wanted):
        raise ValueError(
            "`frame_indices` must be frame numbers >= 0. "
            f"Received: frame_indices={wanted!r}")
    order = sorted(set(wanted))
    decoded = {}
    cap = cv2.VideoCapture(path)
    try:
        pos, last = 0, None
        if seek and order and order[0] > 0:
            if cap.set(cv2.CAP_PROP_POS_FRAMES, order[0]):
                pos = order[0]
            else:  # no seeking support: decode from the start
                cap.release()
                cap = cv2.VideoCapture(path)
        for k in order:
            while pos < k:
                if not cap.grab():
                    break
                pos += 1
            ok, frame = (cap.read() if pos == k else (False, None))
            if ok:
                last = frame
                pos += 1
            elif last is None:
                raise ValueError(
                    f"Cannot decode frame {k} of video {path!r}; re-run "
                    "prepare_ucf101 (it lists unreadable videos).")
            decoded[k] = last
    finally:
        cap.release()
    out = np.stack([decoded[k] for k in wanted])
    return out[..., ::-1].copy()  # BGR -> RGB
