"""The simulated camera's picture: colour bars, a moving bar and a clock.

Rendered straight into a YUV 4:2:0 buffer with numpy (no fonts, no decoding),
cheap enough for 1080p30 on one core: a person sees that it moves and what time
it shows, and every change is a real change for the encoder.

As a still scene (``still = True``, while something watches for motion) the
moving bar and the patch of noise are left out, and the scene changes only as
the simulation says: an object crossing it (``object_moving``) and the light
(``brightness``, a factor on luma). The clock is drawn by :meth:`draw_clock`,
after the scene, so that what motion detection reads can be taken between.
"""

from __future__ import annotations

import time

import numpy as np

# Segments a..g of a seven-segment digit, as (row0, row1, col0, col1) in a 10x6 grid.
_SEGMENTS = {
    "a": (0, 1, 1, 5),
    "b": (1, 5, 5, 6),
    "c": (5, 9, 5, 6),
    "d": (9, 10, 1, 5),
    "e": (5, 9, 0, 1),
    "f": (1, 5, 0, 1),
    "g": (4.5, 5.5, 1, 5),
}
_DIGITS = {
    "0": "abcdef",
    "1": "bc",
    "2": "abdeg",
    "3": "abcdg",
    "4": "bcfg",
    "5": "acdfg",
    "6": "acdefg",
    "7": "abc",
    "8": "abcdefg",
    "9": "abcdfg",
}
_BARS_Y = (180, 168, 145, 133, 63, 51, 28)
_BARS_U = (128, 44, 156, 72, 184, 100, 212)
_BARS_V = (128, 142, 44, 58, 198, 212, 114)


class TestPicture:
    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self._background = self._colour_bars()
        self._frame = np.empty_like(self._background)
        self._scale = max(2, height // 60)  # pixels per clock-grid unit
        # A patch of fresh noise in every frame keeps the encoder at its target
        # bitrate, as a real scene does; a flat test card would cost almost nothing.
        self._rng = np.random.default_rng(0)
        self._noise_rows = slice(height // 3, height // 3 + height // 4)
        self._noise_cols = slice(width - width // 3, width - width // 3 + width // 4)
        self.still = False
        self.object_moving = False
        self.brightness = 1.0
        self._object_x = 0

    def _colour_bars(self) -> np.ndarray:
        w, h = self.width, self.height
        yuv = np.empty((h * 3 // 2, w), dtype=np.uint8)
        luma, chroma = yuv[:h], yuv[h:].reshape(2, h // 2, w // 2)
        bar_w = -(-w // len(_BARS_Y))
        for i, (y, u, v) in enumerate(zip(_BARS_Y, _BARS_U, _BARS_V, strict=True)):
            luma[:, i * bar_w : (i + 1) * bar_w] = y
            chroma[0, :, i * bar_w // 2 : (i + 1) * bar_w // 2] = u
            chroma[1, :, i * bar_w // 2 : (i + 1) * bar_w // 2] = v
        return yuv

    def render(self, index: int, wall_time: float, flash: bool = False) -> np.ndarray:
        """Return the picture for frame ``index`` as a (height*3/2, width) yuv420p array; white if ``flash``."""
        self.render_scene(index, flash)
        if not flash:
            self.draw_clock(wall_time)
        return self._frame

    def render_scene(self, index: int, flash: bool = False) -> np.ndarray:
        """The picture without the clock (see :meth:`render`)."""
        if flash:
            self._frame[: self.height] = 235
            self._frame[self.height :] = 128
            return self._frame
        np.copyto(self._frame, self._background)
        luma = self._frame[: self.height]
        if not self.still:
            bar = max(4, self.width // 40)
            x = (index * max(1, self.width // 120)) % (self.width - bar)
            luma[:, x : x + bar] = 235
            patch = luma[self._noise_rows, self._noise_cols]
            patch[:] = self._rng.integers(16, 236, size=patch.shape, dtype=np.uint8)
        if self.object_moving:
            self._draw_object(luma)
        if self.brightness != 1.0:
            np.clip(luma * self.brightness, 16, 235, out=luma, casting="unsafe")
        return self._frame

    def _draw_object(self, luma: np.ndarray) -> None:
        """A dark box, a sixth of the picture wide, walking across its middle (a person, roughly)."""
        w, h = self.width // 6, self.height // 3
        self._object_x = (self._object_x + max(1, self.width // 90)) % (self.width - w)
        top = self.height // 3
        luma[top : top + h, self._object_x : self._object_x + w] = 40

    def draw_clock(self, wall_time: float) -> None:
        local = time.localtime(wall_time)
        text = time.strftime("%H:%M:%S", local) + f".{int(wall_time * 10) % 10}"
        self._draw_text(self._frame[: self.height], text, top=self.height - 14 * self._scale, left=2 * self._scale)

    def _draw_text(self, luma: np.ndarray, text: str, top: int, left: int) -> None:
        s = self._scale
        box_w = min(self.width - left, (len(text) * 8 + 2) * s)
        luma[top - s : top + 11 * s, left - s : left - s + box_w] = 16
        x = left
        for char in text:
            if char in _DIGITS:
                for seg in _DIGITS[char]:
                    r0, r1, c0, c1 = _SEGMENTS[seg]
                    luma[top + int(r0 * s) : top + int(r1 * s), x + c0 * s : x + c1 * s] = 235
                x += 8 * s
            else:  # ':' or '.'
                luma[top + 8 * s : top + 10 * s, x : x + s] = 235
                if char == ":":
                    luma[top + 2 * s : top + 4 * s, x : x + s] = 235
                x += 3 * s
