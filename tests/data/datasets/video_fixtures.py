"""Tiny real videos for the dataset parser tests (written with OpenCV)."""

import os

import cv2
import numpy as np

HEIGHT, WIDTH = 16, 24


def frame_value(k):
    """The grey level of frame `k` of every fixture video."""
    return (30 * k + 20) % 250


def write_video(path, num_frames, fourcc="MJPG"):
    """Writes `num_frames` flat frames (frame k has `frame_value(k)`)."""
    os.makedirs(os.path.dirname(os.fspath(path)), exist_ok=True)
    writer = cv2.VideoWriter(os.fspath(path), cv2.VideoWriter_fourcc(
        *fourcc), 25, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    for k in range(num_frames):
        writer.write(np.full((HEIGHT, WIDTH, 3), frame_value(k), np.uint8))
    writer.release()
    return os.fspath(path)


def write_corrupt(path):
    """A file with a video extension that is not a video."""
    os.makedirs(os.path.dirname(os.fspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"RIFF\x00\x00garbage, not a video" * 10)
    return os.fspath(path)
