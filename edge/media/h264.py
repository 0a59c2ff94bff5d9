"""Just enough H.264 bitstream knowledge to pass access units through untouched."""

from __future__ import annotations

import re

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


# (level_idc, MaxFS in macroblocks, MaxMBPS), from ITU-T H.264 table A-1: the levels tried, lowest first.
LEVEL_LIMITS = (
    (31, 3600, 108000),
    (32, 5120, 216000),
    (40, 8192, 245760),
    (42, 8704, 522240),
    (51, 36864, 983040),
)


def baseline_profile_level_id(width: int, height: int, framerate: int) -> str:
    """Constrained Baseline at the lowest level that fits a picture size and rate (level 5.2 if none does)."""
    macroblocks = ((width + 15) // 16) * ((height + 15) // 16)
    rate = macroblocks * framerate
    for level, max_frame, max_rate in LEVEL_LIMITS:
        if macroblocks <= max_frame and rate <= max_rate:
            return f"42e0{level:02x}"
    return "42e034"


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
