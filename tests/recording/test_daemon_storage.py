"""The daemon under storage trouble and abrupt ends: a full disk, SIGTERM, kill -9 during a clip."""

from __future__ import annotations

import json
import struct
import time

import pytest

from testbed.clips import (
    CAMERA,
    FPS,
    assert_contiguous,
    clips,
    recordings_dir,
    wait_buffered,
    wait_finished,
    wait_for,
    wall_frame_codes,
)
from tests.recording.storage import fill, tmpfs
from tests.test_browser_live import open_viewer, wait_live

pytestmark = pytest.mark.timeout(120)

SHORT = CAMERA + "[recording]\npre_seconds = 1\npost_seconds = 1\n"


def start_manual_clip(daemon) -> dict:
    """A manual clip (until stopped) once the buffer is full; returns it as listed while being written."""
    wait_buffered(daemon, 2)
    response = daemon.request("POST", "/api/recordings", json={})
    assert response.status_code == 202, response.text
    (clip,) = wait_for(lambda: clips(daemon), lambda c: len(c) == 1, 10, "the clip to be listed")
    assert not clip["complete"]
    return clip


def wait_frames(daemon, seconds: float) -> dict:
    """Until the camera has produced ``seconds`` more of frames; returns the health then."""
    start = daemon.health()["camera"]["frames"]
    return wait_for(daemon.health, lambda h: h["camera"]["frames"] >= start + seconds * FPS, 30, "camera frames")


def top_level_boxes(path) -> list[str]:
    data, boxes, offset = path.read_bytes(), [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        boxes.append(kind.decode())
        offset += size
    return boxes


@pytest.mark.root  # mounts a tmpfs
def test_a_full_disk_ends_the_clip_cleanly_and_streaming_goes_on(daemon_factory, chromium, tmp_path):
    with tmpfs(tmp_path / "disk", 16 * 1024) as disk:
        daemon = daemon_factory(SHORT + f'dir = "{disk}"\nmin_free_mb = 0\n')
        clip = start_manual_clip(daemon)
        wait_frames(daemon, 1)
        fill(disk, leave_kib=8)  # the disk fills up under the running clip
        (clip,) = wait_finished(daemon)
        # Ended by a write error, or just before one by the free-space check: either way cleanly.
        assert clip["ended_by"].startswith("error:") or clip["ended_by"] == "disk nearly full", clip
        health = daemon.health()
        assert health["status"] == "degraded"
        recording = health["recording"]
        assert recording["state"] == "idle" and recording["storage"]["state"] in ("full", "error")
        assert recording["last_error"].startswith(clip["name"])
        # What reached the disk plays: a keyframe first, then every frame.
        codes = wall_frame_codes(disk / clip["name"])
        assert codes[0][2] and len(codes) > FPS
        assert_contiguous(codes)
        # The live stream never noticed.
        assert health["camera"]["state"] == "running"
        page = open_viewer(chromium, daemon)
        wait_live(page)
        page.context.close()
        daemon.stop()


def test_sigterm_finalizes_the_open_clip(daemon_factory):
    daemon = daemon_factory(SHORT)
    clip = start_manual_clip(daemon)
    wait_frames(daemon, 2)
    assert daemon.stop() == 0
    path = recordings_dir(daemon) / clip["name"]
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["complete"] and sidecar["ended_by"] == "shutdown" and sidecar["duration_s"] > 2.5
    assert top_level_boxes(path)[-1] == "mfra"  # closed properly, with its index
    codes = wall_frame_codes(path)
    assert codes[0][2]
    assert_contiguous(codes)
    assert codes[-1][1] - codes[0][1] == pytest.approx(sidecar["duration_s"], abs=0.1)


@pytest.mark.slow  # 4 s of a clip, a kill and a second daemon recovering it: about 10 s
def test_kill_9_leaves_a_playable_file_up_to_about_the_last_second(daemon_factory):
    daemon = daemon_factory(SHORT)
    clip = start_manual_clip(daemon)
    wait_frames(daemon, 4)
    killed_at = time.time()
    daemon.proc.kill()
    daemon.proc.wait(10)
    path = recordings_dir(daemon) / clip["name"]
    codes = wall_frame_codes(path)  # it opens and decodes as it is
    assert codes[0][2]
    assert_contiguous(codes)
    assert codes[-1][1] >= killed_at - 2.0, f"lost {killed_at - codes[-1][1]:.2f} s"
    assert json.loads(path.with_suffix(".json").read_text())["complete"] is False

    # The next start finds it, trims a torn tail if any, and lists it with its real length.
    restarted = daemon_factory(SHORT, state_from=daemon)
    (recovered,) = wait_finished(restarted)
    assert recovered["name"] == clip["name"] and recovered["ended_by"].startswith("interrupted")
    assert recovered["duration_s"] == pytest.approx(codes[-1][1] - codes[0][1] + 1 / FPS, abs=0.15)
