import numpy as np
import pytest

from hw.camera.framecode import (
    capture_time_ms_near,
    draw_frame_code,
    frame_code_value,
    read_frame_code,
    split_frame_code,
)


@pytest.mark.parametrize("width", [640, 1280, 1920, 650])
def test_round_trip_survives_noise(width):
    luma = np.full((360, width), 100, dtype=np.uint8)
    value = frame_code_value(123456, 1_795_307_953_374)
    draw_frame_code(luma, value)
    noisy = np.clip(luma.astype(int) + np.random.default_rng(1).integers(-30, 30, luma.shape), 0, 255).astype(np.uint8)
    assert read_frame_code(noisy) == value
    assert split_frame_code(value) == (123456, 1_795_307_953_374 & 0xFFFFFFFF)


def test_layout_is_the_documented_one():
    luma = np.zeros((64, 1280), dtype=np.uint8)
    draw_frame_code(luma, 1 << 63)  # only the most significant bit: the leftmost cell
    assert (luma[:16, :20] == 235).all()
    assert (luma[:16, 20:] == 16).all()
    assert (luma[16:] == 0).all()


def test_wrapped_capture_time_is_recovered():
    now = 1_795_307_953_374
    assert capture_time_ms_near(now & 0xFFFFFFFF, now + 1500) == now
    just_before_wrap = (now | 0xFFFFFFFF) - 5
    assert capture_time_ms_near(just_before_wrap & 0xFFFFFFFF, just_before_wrap + 10) == just_before_wrap
