"""GStreamer's webrtcbin watches the camera: an independent WebRTC stack (libnice, its
own DTLS with an RSA certificate, max-bundle offers with bundle-only audio)."""

from __future__ import annotations

import base64
import json
import subprocess
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from hw.camera.framecode import BAND_ROWS, read_frame_code, split_frame_code
from tests.test_browser_live import CAMERA_720P

DEBIAN_PYTHON = "/usr/bin/python3"  # the one with GStreamer's bindings (python3-gi)
VIEWER = Path(__file__).parent / "players" / "webrtcbin_whep.py"


def watch_with_webrtcbin(daemon, seconds: float) -> list[dict]:
    result = subprocess.run(
        [
            DEBIAN_PYTHON,
            str(VIEWER),
            "--url",
            daemon.url + "/whep",
            "--token",
            daemon.token,
            "--seconds",
            str(seconds),
            "--timeout",
            "90",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    summary = [e for e in events if e["event"] not in ("frame", "audio")]
    assert result.returncode == 0 and events and events[-1] == {"event": "end", "reason": "done"}, (
        f"webrtcbin viewer: {summary}\nstderr: {result.stderr[-2000:]}\ndaemon log:\n{daemon.log()[-3000:]}"
    )
    return events


@pytest.mark.slow  # 3 s of 720p through a second WebRTC stack: about 5 s and most of a core
def test_webrtcbin_decodes_the_camera_and_hears_the_microphone(daemon_factory):
    daemon = daemon_factory(CAMERA_720P)
    events = watch_with_webrtcbin(daemon, seconds=3)
    assert {"event": "answer", "status": 201} in events

    frames = [e for e in events if e["event"] == "frame"]
    assert {(f["width"], f["height"]) for f in frames} == {(1280, 720)}
    indices = [
        split_frame_code(
            read_frame_code(np.frombuffer(base64.b64decode(f["band"]), np.uint8).reshape(BAND_ROWS, f["width"]))
        )[0]
        for f in frames
    ]
    assert all(b > a for a, b in pairwise(indices)), f"frame codes not advancing: {indices}"
    assert indices[-1] - indices[0] >= 30, f"{len(frames)} frames, codes {indices[0]}..{indices[-1]} in 3 s"

    # The simulated microphone's -20 dBFS sine: an RMS level of -23 dB once decoded.
    levels = [max(e["rms_db"]) for e in events if e["event"] == "audio"]
    assert sum(level > -30 for level in levels) >= 5, f"audio levels {levels}"
    assert daemon.health()["viewers"] == 0  # the viewer's DELETE ended the session
