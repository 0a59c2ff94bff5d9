"""The daemon records a clip around a simulated doorbell, and Chromium plays it."""

from __future__ import annotations

import io
import json
import subprocess

import av
import pytest

from hw.camera.framecode import read_frame_code, split_frame_code
from testbed.clips import (
    CAMERA,
    FPS,
    assert_contiguous,
    clips,
    drive,
    recordings_dir,
    wait_buffered,
    wait_finished,
    wait_for,
    wall_frame_codes,
)

pytestmark = pytest.mark.timeout(120)

PRE_S, POST_S, KEYFRAME_INTERVAL_S = 3.0, 2.0, 1.0
# For a test that needs a clip but not its pre- and post-roll: a short one, done sooner.
SHORT_PRE_S = SHORT_POST_S = 1.0


def clip_config(pre_s: float, post_s: float) -> str:
    return (
        CAMERA
        + f"""
[recording]
pre_seconds = {pre_s}
post_seconds = {post_s}

[[triggers]]
name = "doorbell"
pin = 17
pull = "up"
active = "low"
debounce_ms = 30
mode = "hold"
"""
    )


CONFIG = clip_config(PRE_S, POST_S)
PLAY_JS = """
async (url) => {
  const video = document.createElement('video');
  video.muted = true;
  video.src = url;
  document.body.appendChild(video);
  const failed = await new Promise((resolve) => {
    video.onerror = () => resolve(video.error ? video.error.message || String(video.error.code) : 'error');
    video.onloadeddata = () => resolve(null);
  });
  if (failed) return {failed};
  await video.play();
  await new Promise((resolve) => {
    const check = () => (video.currentTime > 1 ? resolve() : setTimeout(check, 50));
    check();
  });
  const result = {currentTime: video.currentTime, readyState: video.readyState, duration: video.duration,
                  width: video.videoWidth, audioBytes: video.webkitAudioDecodedByteCount};
  video.remove();
  return result;
}
"""


def test_a_simulated_press_makes_a_clip_with_pre_and_post_roll_that_plays(daemon_factory, chromium):
    daemon = daemon_factory(CONFIG)
    wait_buffered(daemon, PRE_S + KEYFRAME_INTERVAL_S)
    frames_at_press = daemon.health()["camera"]["frames"]
    pressed = drive(daemon, 17, True)
    # Held longer than post_seconds (counted in camera frames): a hold input records all along.
    held = wait_for(
        daemon.health,
        lambda h: h["camera"]["frames"] >= frames_at_press + (POST_S + 0.5) * FPS,
        30,
        "the camera to move on",
    )["recording"]
    assert held["state"] == "recording" and held["ends_at"] is None
    assert held["reasons"] == [{"name": "doorbell", "held": True}]
    (in_progress,) = clips(daemon)
    assert not in_progress["complete"] and in_progress["trigger"] == "doorbell"
    released = drive(daemon, 17, False)
    (clip,) = wait_finished(daemon)
    assert clip["ended_by"] == "finished" and clip["has_audio"]

    path = recordings_dir(daemon) / clip["name"]
    probe = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
    )
    streams = {s["codec_type"]: s for s in probe["streams"]}
    assert streams["video"]["codec_name"] == "h264" and (streams["video"]["width"], streams["video"]["height"]) == (
        640,
        360,
    )
    assert streams["audio"]["codec_name"] == "opus"
    frames = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "frame=media_type,key_frame", "-of", "csv", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert frames.returncode == 0 and frames.stderr == "", frames.stderr  # every frame of both tracks decodes
    kinds = [line.split(",")[1] for line in frames.stdout.split()]
    assert kinds.count("video") > (PRE_S + POST_S) * FPS and kinds.count("audio") > (PRE_S + POST_S) * 50

    codes = wall_frame_codes(path)
    assert codes[0][2], "the first frame is a keyframe"
    assert_contiguous(codes)
    first, last = codes[0][1], codes[-1][1]
    # 1 ms for turning monotonic into wall-clock time; 0.25 s because on a loaded machine
    # a keyframe interval's 30 frames can take a little longer than 1 s to capture.
    assert first <= pressed - PRE_S + 0.001, f"pre-roll {pressed - first:.3f} s"
    assert first >= pressed - PRE_S - KEYFRAME_INTERVAL_S - 0.25, f"pre-roll {pressed - first:.3f} s"
    assert abs(last - (released + POST_S)) <= 0.5, f"ended {last - released:.3f} s after the release"
    assert clip["duration_s"] == pytest.approx(last - first, abs=0.1)

    page = chromium.new_context().new_page()
    page.goto(daemon.page_url)  # logs in (the clip URL needs the session cookie)
    page.wait_for_function("() => !window.location.search.includes('token')", timeout=15000)
    played = page.evaluate(PLAY_JS, clip["url"])
    assert "failed" not in played, played
    assert played["currentTime"] > 1 and played["readyState"] >= 2 and played["width"] == 640
    assert played["duration"] == pytest.approx(clip["duration_s"], abs=0.2)
    assert played["audioBytes"] > 0  # Chromium decoded the Opus track too
    page.context.close()


def test_a_camera_restart_during_a_clip_leaves_a_clip_that_plays_through(daemon_factory):
    daemon = daemon_factory(CONFIG)
    wait_buffered(daemon, 1.0)
    assert daemon.request("POST", "/api/recordings", json={"seconds": 30}).status_code == 202
    wait_for(daemon.health, lambda h: h["recording"]["state"] == "recording", 10, "the clip to start")
    restarts = daemon.health()["camera"]["restarts"]
    assert daemon.request("POST", "/api/sim/camera/fault", json={"kind": "crash"}).status_code == 204
    wait_for(
        daemon.health,
        lambda h: h["camera"]["restarts"] > restarts and h["camera"]["state"] == "running",
        30,
        "the camera to come back",
    )
    frames_after = daemon.health()["camera"]["frames"]
    wait_for(daemon.health, lambda h: h["camera"]["frames"] > frames_after + 2 * FPS, 30, "two seconds of new frames")
    daemon.request("POST", "/api/recordings/stop").raise_for_status()
    (clip,) = wait_finished(daemon)
    codes = wall_frame_codes(recordings_dir(daemon) / clip["name"])
    # Two runs of contiguous frames: the old camera's, then the restarted one's from its first keyframe.
    restart_at = next(i for i in range(1, len(codes)) if codes[i][0] < codes[i - 1][0])
    assert_contiguous(codes[:restart_at])
    assert_contiguous(codes[restart_at:])
    assert codes[restart_at][2], "the restarted camera's part starts with a keyframe"
    assert len(codes) - restart_at >= 2 * FPS


def test_a_finished_clip_has_a_poster_of_its_first_picture(daemon_factory):
    daemon = daemon_factory(clip_config(SHORT_PRE_S, SHORT_POST_S))
    wait_buffered(daemon, SHORT_PRE_S + KEYFRAME_INTERVAL_S)
    drive(daemon, 17, True)
    wait_for(lambda: clips(daemon), bool, 10, "the clip to start")  # held past the debounce time
    drive(daemon, 17, False)
    (clip,) = wait_finished(daemon, timeout=60)
    assert clip["poster"] == "/recordings/" + clip["name"].removesuffix(".mp4") + ".jpg"
    response = daemon.request("GET", clip["poster"])
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/jpeg"
    with av.open(io.BytesIO(response.content)) as container:
        poster = next(container.decode(video=0))
    assert (poster.width, poster.height) == (640, 360)
    first_index = wall_frame_codes(recordings_dir(daemon) / clip["name"])[0][0]
    assert split_frame_code(read_frame_code(poster.to_ndarray(format="gray")))[0] == first_index

    assert daemon.request("DELETE", f"/api/recordings/{clip['name']}").status_code in (200, 204)
    assert daemon.request("GET", clip["poster"]).status_code == 404
    assert not (recordings_dir(daemon) / clip["poster"].rsplit("/", 1)[1]).exists()
