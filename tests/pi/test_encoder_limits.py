"""What the daemon refuses at start-up on a Pi: settings beyond its H.264 encoder's level, and a
picamera2 too old; both named with what to do. Read as ``edge`` reads them: the fake Pi's
kernel files (tests/pi/fake_system.py) and picamera2's installed version. And the level the
daemon declares for a stream is the one each Pi encoder writes, bitrate included."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from edge.config import ConfigError, parse_config
from edge.hardware import Picamera2TooOld, open_hardware
from edge.media.h264 import NAL_SPS, baseline_profile_level_id, nal_type, split_nal_units
from hw.camera import CameraSettings
from hw.camera.pi import PiCamera, open_picamera2
from hw.camera.simulated import SimulatedCamera
from testbed.fake_picamera2 import FakeCamera
from testbed.picamera2_env import installed_picamera2
from tests.pi.fake_system import PI5_MODEL, fake_system, pi4

REPO = Path(__file__).resolve().parents[2]
VC4 = "the VideoCore hardware encoder (bcm2835-codec) takes"
VC4_LEVEL = "(H.264 level 4.0: 1080p30, what its driver rates the hardware for)"
PI5 = "the Pi 5 software encoder (libx264 via picamera2) takes"
PI5_LEVEL = "(H.264 level 4.0: 1080p30, a cautious budget for libx264 on the Pi 5's CPU)"
# linux/v4l2-controls.h: enum v4l2_mpeg_video_h264_level, as level_idc
V4L2_H264_LEVELS = {11: 40, 12: 41, 13: 42}
VC4_DEFAULT_LEVEL = 40  # bcm2835-codec's level control starts at 4.0


def camera(width: int, height: int, framerate: int = 30, backend: str = "auto"):
    text = f'[camera]\nbackend = "{backend}"\nwidth = {width}\nheight = {height}\nframerate = {framerate}\n'
    return parse_config(tomllib.loads(text))


def refusal(config, platform, force_simulated: bool = False) -> str:
    with pytest.raises(ConfigError) as error:
        open_hardware(config, force_simulated=force_simulated, platform=platform)
    return str(error.value)


@pytest.mark.parametrize(
    "width, height, framerate, message",
    [
        (
            1920,
            1440,
            30,
            f"camera.width and camera.height: 1920x1440 is 10,800 macroblocks a picture, more than {VC4}: "
            f"at most 8,192 {VC4_LEVEL}",
        ),
        (
            1920,
            1920,
            15,
            f"camera.width and camera.height: 1920x1920 is 14,400 macroblocks a picture, more than {VC4}: "
            f"at most 8,192 {VC4_LEVEL}",
        ),
        (
            1920,
            1080,
            60,
            f"camera.framerate 60 at 1920x1080 is 489,600 macroblocks a second, more than {VC4}: "
            f"at most 245,760 {VC4_LEVEL}; at 1920x1080 at most 30 fps",
        ),
        (
            1280,
            720,
            120,
            f"camera.framerate 120 at 1280x720 is 432,000 macroblocks a second, more than {VC4}: "
            f"at most 245,760 {VC4_LEVEL}; at 1280x720 at most 68 fps",
        ),
    ],
)
def test_a_pi4_refuses_what_its_encoder_is_not_rated_for_naming_the_keys_and_the_limit(
    tmp_path, width, height, framerate, message
):
    assert refusal(camera(width, height, framerate), pi4(tmp_path)) == message


@pytest.mark.parametrize("width, height, framerate", [(1920, 1080, 30), (1280, 720, 60), (640, 480, 120)])
def test_a_pi4_starts_with_what_its_encoder_is_rated_for(tmp_path, width, height, framerate):
    hardware = open_hardware(camera(width, height, framerate), force_simulated=False, platform=pi4(tmp_path))
    assert isinstance(hardware.camera, PiCamera)


def test_a_pi5_is_held_to_a_named_budget_for_its_software_encoder(tmp_path):
    pi5 = fake_system(tmp_path, PI5_MODEL)
    assert refusal(camera(1920, 1080, 60), pi5) == (
        f"camera.framerate 60 at 1920x1080 is 489,600 macroblocks a second, more than {PI5}: "
        f"at most 245,760 {PI5_LEVEL}; at 1920x1080 at most 30 fps"
    )
    assert refusal(camera(1920, 1440, 15), pi5).endswith(f"more than {PI5}: at most 8,192 {PI5_LEVEL}")
    assert isinstance(open_hardware(camera(1920, 1080, 30), force_simulated=False, platform=pi5).camera, PiCamera)


def test_a_simulated_camera_is_held_to_h264s_own_limits_only(tmp_path):
    """Off a Pi, or simulated on one: what the Pi's encoders cannot do runs; what no H.264 level allows does not."""
    laptop = fake_system(tmp_path / "laptop", None)
    for config in (camera(1920, 1080, 60), camera(1920, 1920, 15), camera(1280, 720, 120)):
        assert isinstance(open_hardware(config, force_simulated=False, platform=laptop).camera, SimulatedCamera)
        assert isinstance(
            open_hardware(config, force_simulated=True, platform=pi4(tmp_path / "pi")).camera, SimulatedCamera
        )
    assert refusal(camera(4096, 4096), laptop) == (
        "camera.width and camera.height: 4096x4096 is 65,536 macroblocks a picture, more than H.264 allows: "
        "at most 36,864 (level 5.2, the highest the daemon declares)"
    )
    assert refusal(camera(4096, 2160, 120), pi4(tmp_path / "pi"), force_simulated=True) == (
        "camera.framerate 120 at 4096x2160 is 4,147,200 macroblocks a second, more than H.264 allows: "
        "at most 2,073,600 (level 5.2, the highest the daemon declares); at 4096x2160 at most 60 fps"
    )


LOW_OFF_1080P30 = (
    "No low stream: [camera.low] 640x360 beside 1920x1080 at 30 fps is 272,400 macroblocks a second, more than "
    f"the VideoCore hardware encoder (bcm2835-codec) encodes for both streams: at most 245,760 {VC4_LEVEL}; "
    "with it camera.framerate at most 27 (or a smaller picture); [camera.low] enabled = false runs main alone "
    "without this warning"
)


def test_a_pi4_runs_1080p30_without_the_low_stream_and_says_why(tmp_path, caplog):
    """The VideoCore's two sessions share one block rated for 1080p30 in all: main keeps it."""
    with caplog.at_level(logging.WARNING, logger="edge.hardware"):
        hardware = open_hardware(camera(1920, 1080, 30), force_simulated=False, platform=pi4(tmp_path))
    assert isinstance(hardware.camera, PiCamera) and hardware.camera.low_settings is None
    assert [r.getMessage() for r in caplog.records] == [LOW_OFF_1080P30]


@pytest.mark.parametrize(
    "width, height, framerate, low",
    [
        (1920, 1080, 27, (640, 360)),
        (1280, 720, 30, (640, 360)),
        (1280, 720, 54, (640, 360)),
        (640, 480, 30, (640, 480)),
    ],
)
def test_a_pi4_runs_the_low_stream_beside_main_within_its_encoders_rating(
    tmp_path, caplog, width, height, framerate, low
):
    with caplog.at_level(logging.WARNING, logger="edge.hardware"):
        hardware = open_hardware(camera(width, height, framerate), force_simulated=False, platform=pi4(tmp_path))
    settings = hardware.camera.low_settings
    assert caplog.records == []
    if low[0] >= width:  # no smaller than main: no low stream, nothing to say
        assert settings is None
    else:
        assert settings is not None and (settings.width, settings.height, settings.framerate) == (*low, framerate)


def test_a_pi5_runs_the_low_stream_beside_1080p30(tmp_path, caplog):
    """A second libx264 on the CPU: its own budget (docs/picamera2.md, "The low stream")."""
    with caplog.at_level(logging.WARNING, logger="edge.hardware"):
        hardware = open_hardware(
            camera(1920, 1080, 30), force_simulated=False, platform=fake_system(tmp_path, PI5_MODEL)
        )
    low = hardware.camera.low_settings
    assert not [r for r in caplog.records if "low stream" in r.getMessage()]
    assert low is not None and (low.width, low.height) == (640, 360)


def test_a_picamera2_older_than_0_3_32_is_refused_with_the_upgrade_command(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(installed_picamera2(tmp_path / "old", "0.3.31")))
    with pytest.raises(Picamera2TooOld) as error:
        open_hardware(camera(1280, 720), force_simulated=False, platform=pi4(tmp_path / "pi"))
    assert str(error.value) == (
        "picamera2 0.3.31 is older than 0.3.32, the oldest supported (before it, a viewer who joins waits for "
        "the next periodic keyframe); update it: sudo apt update && sudo apt full-upgrade "
        "(picamera2 alone: sudo apt install python3-picamera2)"
    )
    simulated = open_hardware(camera(1280, 720), force_simulated=True, platform=pi4(tmp_path / "pi"))
    assert isinstance(simulated.camera, SimulatedCamera)  # --simulate needs no picamera2


@pytest.mark.parametrize("version", ["0.3.32", "0.3.37"])
def test_a_supported_picamera2_starts(tmp_path, monkeypatch, version):
    monkeypatch.syspath_prepend(str(installed_picamera2(tmp_path / version, version)))
    hardware = open_hardware(camera(1280, 720), force_simulated=False, platform=pi4(tmp_path / "pi"))
    assert isinstance(hardware.camera, PiCamera)


def test_edge_with_an_old_picamera2_exits_at_once_saying_how_to_upgrade(tmp_path):
    """The command the service runs: it stops with status 2 (systemd does not restart it) and says why."""
    config = tmp_path / "edge.toml"
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = 0\nstate_dir = "{tmp_path / "state"}"\n[camera]\nbackend = "picamera2"\n'
    )
    old = installed_picamera2(tmp_path / "old", "0.3.30")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from edge.cli import main; sys.exit(main())",
            "run",
            "--config",
            str(config),
        ],
        env={**os.environ, "PYTHONPATH": os.pathsep.join((str(old), str(REPO)))},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "edge: cannot start: picamera2 0.3.30 is older than 0.3.32" in result.stderr
    assert "sudo apt update && sudo apt full-upgrade" in result.stderr


async def first_access_unit(settings: CameraSettings) -> bytes:
    stream = PiCamera(settings, open_camera=lambda: open_picamera2(FakeCamera)).frames()
    try:
        async with asyncio.timeout(60):
            return (await anext(stream)).data
    finally:
        await stream.aclose()


@pytest.mark.parametrize("bitrate", [10_000_000, 12_000_000, 25_000_000], ids=["10Mbit", "12Mbit", "25Mbit"])
async def test_the_level_declared_for_1080p30_is_the_one_the_encoder_writes(pi, bitrate):
    """Level 4.0 allows 20 Mbit/s; both encoders take an average bitrate's peak as twice it, so above 10 Mbit/s they
    write level 4.1 (the same pictures, up to 50 Mbit/s): a viewer told the level before the first SPS is told that."""
    settings = CameraSettings(width=1920, height=1080, framerate=30, bitrate=bitrate, keyframe_interval=60)
    unit = await first_access_unit(settings)
    if pi.device is None:  # libx264 really encodes: read its SPS
        sps = next(n for n in split_nal_units(unit) if nal_type(n) == NAL_SPS)
        written = sps[3]
    else:  # the VideoCore encoder is told its level, or keeps its default
        control = pi.device.controls.get("V4L2_CID_MPEG_VIDEO_H264_LEVEL")
        written = VC4_DEFAULT_LEVEL if control is None else V4L2_H264_LEVELS[control]
    declared = int(baseline_profile_level_id(1920, 1080, 30, bitrate)[4:], 16)
    assert declared == written == (40 if bitrate <= 10_000_000 else 41)
