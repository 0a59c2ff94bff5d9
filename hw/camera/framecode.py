"""The frame code: a machine-readable stamp in the top rows of each picture.

Tests and benchmarks read it back (from a decoded recording, or from a canvas in
the browser) to tell which frame they see and when it was captured:

- in the luma plane the top 16 rows hold 64 cells of equal width
  (``width // 64`` pixels), left to right;
- cell ``i`` is white (Y=235) when bit ``63 - i`` of ``V`` is 1, else black (Y=16);
- chroma in that band is neutral (128);
- ``V = (frame_index << 32) | (capture_time_ms & 0xFFFFFFFF)``.
"""

from __future__ import annotations

import numpy as np

BAND_ROWS = 16
CELLS = 64
WHITE = 235
BLACK = 16


def frame_code_value(frame_index: int, capture_time_ms: int) -> int:
    return ((frame_index & 0xFFFFFFFF) << 32) | (capture_time_ms & 0xFFFFFFFF)


def split_frame_code(value: int) -> tuple[int, int]:
    """Return ``(frame_index, capture_time_ms & 0xFFFFFFFF)``."""
    return value >> 32, value & 0xFFFFFFFF


def draw_frame_code(luma: np.ndarray, value: int) -> None:
    """Write ``value`` into the top band of a (height, width) uint8 luma plane."""
    cell = luma.shape[1] // CELLS
    bits = (value >> np.arange(63, -1, -1, dtype=np.uint64)) & np.uint64(1)
    row = np.where(bits.astype(bool), WHITE, BLACK).astype(np.uint8)
    luma[:BAND_ROWS, : cell * CELLS] = np.repeat(row, cell)[np.newaxis, :]
    luma[:BAND_ROWS, cell * CELLS :] = BLACK


def read_frame_code(luma: np.ndarray) -> int:
    """Read the value back from a decoded luma plane (robust to coding noise)."""
    cell = luma.shape[1] // CELLS
    margin = max(1, cell // 4)
    band = luma[2 : BAND_ROWS - 2].astype(np.float32)
    value = 0
    for i in range(CELLS):
        mean = band[:, i * cell + margin : (i + 1) * cell - margin].mean()
        value = (value << 1) | int(mean > (WHITE + BLACK) / 2)
    return value


def capture_time_ms_near(wrapped_ms: int, reference_ms: int) -> int:
    """Undo the 32-bit wrap of a capture time, using a nearby full timestamp."""
    base = reference_ms - (reference_ms & 0xFFFFFFFF)
    candidates = (base - 2**32 + wrapped_ms, base + wrapped_ms, base + 2**32 + wrapped_ms)
    return min(candidates, key=lambda t: abs(t - reference_ms))
