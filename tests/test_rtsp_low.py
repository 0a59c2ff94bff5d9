"""RTSP's second path, ``/camera/low``: the camera's small stream for an NVR's detection, beside ``/camera``.

A daemon with a 1280x720 camera (its low stream 640x360, ``[camera.low]``'s defaults); ffprobe
and ffmpeg as clients on 127.0.0.1.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hw.camera.framecode import capture_time_ms_near
from testbed.clips import assert_contiguous, wait_for
from testbed.daemon import DaemonProcess
from tests.test_rtsp import Recorder, ffprobe, rtsp_url

FPS = 30
# A long keyframe interval: a keyframe within a few seconds of a client's start is one it asked for.
ASKED_KEYFRAME_S = 3
CONFIG = (
    "[rtsp]\nenabled = true\nport = 0\n"
    f"[camera]\nwidth = 1280\nheight = 720\nframerate = {FPS}\nkeyframe_interval = 10\n"
)


@pytest.fixture(scope="module")
def daemon(module_daemon_factory) -> DaemonProcess:
    return module_daemon_factory(CONFIG)


def low_url(daemon: DaemonProcess) -> str:
    """The low stream's URL as the daemon's status gives it, with credentials."""
    url = wait_for(daemon.health, lambda h: "low_url" in h["rtsp"], 10, "the RTSP server")["rtsp"]["low_url"]
    assert url is not None, "no low stream served"
    return url.replace("rtsp://", f"rtsp://edge:{daemon.token}@", 1)


def streams(url: str) -> dict[str, dict]:
    result = ffprobe(url, "-v", "error", "-rtsp_transport", "tcp")
    assert result.returncode == 0, result.stderr[-3000:]
    return {s["codec_type"]: s for s in json.loads(result.stdout)["streams"]}


def size(stream: dict) -> tuple[int, int]:
    return stream["width"], stream["height"]


def test_camera_low_is_the_small_stream_with_the_same_sound_and_password_and_camera_stays_main(daemon):
    assert low_url(daemon).endswith("/camera/low")
    without_password = ffprobe(daemon.health()["rtsp"]["low_url"], "-v", "error", "-rtsp_transport", "tcp")
    assert "401 Unauthorized" in without_password.stderr, without_password.stderr
    low = streams(low_url(daemon))
    assert (low["video"]["codec_name"], size(low["video"])) == ("h264", (640, 360))
    assert (low["audio"]["codec_name"], low["audio"]["profile"], low["audio"]["sample_rate"]) == ("aac", "LC", "48000")
    main = streams(rtsp_url(daemon))
    assert (main["video"]["codec_name"], size(main["video"])) == ("h264", (1280, 720))
    assert main["audio"]["codec_name"] == "aac"


@pytest.mark.slow  # 8 s of recordings
def test_a_client_on_each_path_at_once_and_joining_low_asks_only_the_low_encoder(daemon, tmp_path: Path):
    main = Recorder(rtsp_url(daemon), tmp_path / "main.mkv", 8)
    main.wait_frames(FPS)
    before = daemon.health()["camera"]
    low = Recorder(low_url(daemon), tmp_path / "low.mkv", 4, transport="udp")
    low.wait_frames(FPS)
    # A second client joins the low stream while it plays: a fresh keyframe of it, at once.
    joining = Recorder(low_url(daemon), tmp_path / "joining.mkv", 2)
    joining.wait_frames(FPS)
    wait_for(daemon.health, lambda h: h["rtsp"]["clients"] == 3, 10, "a client on /camera and two on /camera/low")
    after = daemon.health()["camera"]
    assert after["low"]["keyframes_forced"] > before["low"]["keyframes_forced"]
    assert after["keyframes_forced"] == before["keyframes_forced"], "a low client asked the main encoder"

    now_ms = int(time.time() * 1000)
    codes = {}
    for recorder, seconds, (width, height) in ((main, 8, (1280, 720)), (low, 4, (640, 360)), (joining, 2, (640, 360))):
        codes[recorder] = recorder.finish()
        assert codes[recorder][0][2], f"{recorder.path.name} does not start on a keyframe"
        assert_contiguous(codes[recorder])
        frames = len(codes[recorder])
        # It plays on (contiguous, above); a loaded machine's simulated camera may fall well short of 30 fps.
        assert frames >= 0.5 * seconds * FPS, f"{recorder.path.name}: {frames} frames in {seconds} s"
        first_capture_s = capture_time_ms_near(codes[recorder][0][1], now_ms) / 1000
        waited = first_capture_s - recorder.started
        assert waited < ASKED_KEYFRAME_S, f"{recorder.path.name} waited {waited:.1f} s for its first keyframe"
        [video] = json.loads(ffprobe(str(recorder.path), "-v", "error", "-select_streams", "v").stdout)["streams"]
        assert size(video) == (width, height)
    # The main stream's keyframes all came as its own client started: none once the low ones had.
    since_low = [i for i, ms, key in codes[main] if key and capture_time_ms_near(ms, now_ms) / 1000 > low.started]
    assert not since_low, f"the main stream made IDRs (frames {since_low}) as low clients joined"
