"""Just enough H.264 bitstream knowledge to pass access units through untouched."""

from __future__ import annotations

import re
from dataclasses import dataclass

NAL_IDR = 5
NAL_SPS = 7
NAL_PPS = 8

_START_CODE = re.compile(b"\x00\x00\x01")


def split_nal_units(access_unit: bytes) -> list[bytes]:
    """Split an Annex-B buffer into NAL units (without start codes)."""
    units = []
    starts = [m.end() for m in _START_CODE.finditer(access_unit)]
    for i, start in enumerate(starts):
        end = starts[i + 1] - 3 if i + 1 < len(starts) else len(access_unit)
        unit = access_unit[start:end].rstrip(b"\x00") if i + 1 < len(starts) else access_unit[start:end]
        if unit:
            units.append(unit)
    return units


def nal_type(unit: bytes) -> int:
    return unit[0] & 0x1F


def profile_level_id(sps: bytes) -> str:
    """The SDP ``profile-level-id`` (6 hex digits) an SPS NAL unit declares."""
    if len(sps) < 4 or nal_type(sps) != NAL_SPS:
        raise ValueError("not an SPS NAL unit")
    return sps[1:4].hex()


@dataclass(frozen=True)
class Level:
    """An H.264 level's limits (ITU-T H.264 table A-1): the picture size and the rate in macroblocks, the bitrate."""

    idc: int  # level_idc: 40 for level 4.0
    max_frame_macroblocks: int
    max_macroblocks_per_second: int
    max_bitrate: int  # bit/s: MaxBR x 1000, table A-1's figure for Baseline's VCL (the NAL figure is 1.2 times it)

    @property
    def name(self) -> str:
        return f"{self.idc // 10}.{self.idc % 10}"


# The levels a profile-level-id is chosen from, lowest first; the last is the highest the daemon declares.
LEVELS = (
    Level(31, 3_600, 108_000, 14_000_000),
    Level(32, 5_120, 216_000, 20_000_000),
    Level(40, 8_192, 245_760, 20_000_000),
    Level(41, 8_192, 245_760, 50_000_000),  # 4.0's pictures at a higher bitrate
    Level(42, 8_704, 522_240, 50_000_000),
    Level(51, 36_864, 983_040, 240_000_000),
    Level(52, 36_864, 2_073_600, 240_000_000),
)
HIGHEST_LEVEL = LEVELS[-1]

# An average-bitrate stream's peak, as both Pi encoders judge a level by it: libx264 (rate control by average, no
# VBV: it takes twice the bitrate as the maximum) and picamera2's V4L2 encoder (level 4.1 above 10 Mbit/s).
PEAK_PER_AVERAGE_BITRATE = 2


def level(idc: int) -> Level:
    return next(known for known in LEVELS if known.idc == idc)


def macroblocks(width: int, height: int) -> int:
    """The 16x16 macroblocks of one picture (a partial one at an edge counts whole)."""
    return ((width + 15) // 16) * ((height + 15) // 16)


def stream_level(width: int, height: int, framerate: int, bitrate: int) -> Level:
    """The lowest level a stream of these settings fits, as the encoders choose it (the highest if none does)."""
    frame = macroblocks(width, height)
    fitting = (
        known
        for known in LEVELS
        if frame <= known.max_frame_macroblocks
        and frame * framerate <= known.max_macroblocks_per_second
        and bitrate * PEAK_PER_AVERAGE_BITRATE <= known.max_bitrate
    )
    return next(fitting, HIGHEST_LEVEL)


def baseline_profile_level_id(width: int, height: int, framerate: int, bitrate: int) -> str:
    """Constrained Baseline at the level a stream of these settings fits (see :func:`stream_level`)."""
    return f"42e0{stream_level(width, height, framerate, bitrate).idc:02x}"


class ParameterSetCache:
    """Remembers the stream's latest SPS/PPS and puts them in front of an IDR that lacks them.

    Browsers drop an IDR whose parameter sets they have not seen, then ask again
    and again; an encoder that sends headers only at start would leave late
    viewers black. Cheap: only IDRs are inspected.
    """

    def __init__(self) -> None:
        self.sps: bytes | None = None
        self.pps: bytes | None = None

    def ensure_headers(self, access_unit: bytes) -> bytes:
        units = split_nal_units(access_unit)
        types = {nal_type(u) for u in units}
        for unit in units:
            if nal_type(unit) == NAL_SPS:
                self.sps = unit
            elif nal_type(unit) == NAL_PPS:
                self.pps = unit
        if NAL_IDR in types and not {NAL_SPS, NAL_PPS} <= types and self.sps and self.pps:
            return b"\x00\x00\x00\x01" + self.sps + b"\x00\x00\x00\x01" + self.pps + access_unit
        return access_unit

    @property
    def profile_level_id(self) -> str | None:
        return profile_level_id(self.sps) if self.sps else None
