import pytest

from edge.media.h264 import (
    NAL_IDR,
    NAL_PPS,
    NAL_SPS,
    ParameterSetCache,
    baseline_profile_level_id,
    nal_type,
    profile_level_id,
    split_nal_units,
)

SPS = bytes([0x67, 0x42, 0xC0, 0x1F, 0xAA])
PPS = bytes([0x68, 0xCE, 0x3C, 0x80])
IDR = bytes([0x65, 0x88, 0x84, 0x00, 0x10])
P = bytes([0x41, 0x9A, 0x02])


def annexb(*units: bytes) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + u for u in units)


def test_split_and_types():
    units = split_nal_units(annexb(SPS, PPS, IDR))
    assert [nal_type(u) for u in units] == [NAL_SPS, NAL_PPS, NAL_IDR]
    assert units[2] == IDR


def test_profile_level_id_comes_from_the_sps():
    assert profile_level_id(SPS) == "42c01f"
    with pytest.raises(ValueError):
        profile_level_id(PPS)


@pytest.mark.parametrize(
    "width, height, framerate, bitrate, expected",
    [
        (1280, 720, 30, 2_000_000, "42e01f"),  # 3600 macroblocks at 30/s: level 3.1 exactly
        (1280, 720, 30, 7_000_000, "42e01f"),  # a 14 Mbit/s peak: 3.1's limit
        (1280, 720, 30, 7_001_000, "42e020"),  # beyond it: level 3.2
        (1280, 720, 60, 2_000_000, "42e020"),  # level 3.2
        (1920, 1080, 30, 2_000_000, "42e028"),  # 8160 macroblocks (1088 lines): level 4.0
        (1920, 1080, 30, 10_001_000, "42e029"),  # a peak over 4.0's 20 Mbit/s: level 4.1
        (1920, 1080, 60, 2_000_000, "42e02a"),  # level 4.2
        (4096, 2160, 30, 2_000_000, "42e034"),  # beyond 5.1: the highest
    ],
)
def test_baseline_profile_level_id_is_the_lowest_level_that_fits(width, height, framerate, bitrate, expected):
    assert baseline_profile_level_id(width, height, framerate, bitrate) == expected


def test_an_idr_without_headers_gets_the_last_ones():
    cache = ParameterSetCache()
    first = annexb(SPS, PPS, IDR)
    assert cache.ensure_headers(first) == first
    bare = annexb(IDR)
    fixed = cache.ensure_headers(bare)
    assert [nal_type(u) for u in split_nal_units(fixed)] == [NAL_SPS, NAL_PPS, NAL_IDR]
    assert cache.ensure_headers(annexb(P)) == annexb(P)
    assert cache.profile_level_id == "42c01f"
