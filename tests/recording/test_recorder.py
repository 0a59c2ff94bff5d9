"""The recorder in one process: manual clips, long clips split at keyframes, storage trouble."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import threading
import time

import pytest

import edge.recording.recorder as recorder_module
from edge.recording.mp4 import Mp4Clip
from edge.recording.retention import MB
from testbed.media import FPS, decode_frame_codes, until
from tests.recording.rig import Rig
from tests.recording.storage import fill, remount, tmpfs

pytestmark = pytest.mark.timeout(90)


async def run_until(rig: Rig, condition, what: str, timeout: float = 15.0) -> None:
    """Keep the camera going until the recorder (or its writer thread) does something."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await rig.camera.step()
        await asyncio.sleep(0.001)  # real time for the writer thread


async def test_a_manual_clip_runs_for_its_seconds_or_until_stopped(tmp_path):
    async with Rig(tmp_path) as rig:
        await rig.camera.run_for(2)
        asked_ms = rig.clock.now_us // 1000
        assert rig.recorder.record(1.5) is not None
        await rig.camera.run_for(3)
        rig.recorder.record(None)  # until stopped (at most max_clip_seconds)
        await rig.camera.run_for(2)
        assert rig.recorder.recording
        stopped_ms = rig.clock.now_us // 1000
        assert rig.recorder.stop_clip() is not None
        first, second = await rig.finished_clips(2)
        assert first.trigger == second.trigger == "manual"
        assert first.ended_by == "finished" and second.ended_by == "stopped"
        codes = decode_frame_codes(rig.path(first))
        assert asked_ms + 1500 - 40 <= codes[-1][1] <= asked_ms + 1500
        codes = decode_frame_codes(rig.path(second))
        assert stopped_ms - 40 <= codes[-1][1] <= stopped_ms


async def test_every_file_of_a_clip_is_0640_whatever_the_umask(tmp_path):
    """The MP4 and its poster like their JSON sidecar: owner and group only, also while written."""
    old_umask = os.umask(0o022)  # a shell's usual umask: new files 0644, readable by anyone
    try:
        async with Rig(tmp_path) as rig:
            await rig.camera.run_for(2)
            rig.recorder.record(2)
            await rig.camera.run_for(1)
            assert rig.recorder.recording
            await until(lambda: list(tmp_path.glob("*.mp4")), what="the clip's file")
            (writing,) = tmp_path.glob("*.mp4")
            assert stat.S_IMODE(writing.stat().st_mode) == 0o640
            await rig.camera.run_for(3)
            (clip,) = await rig.finished_clips(1)
            assert clip.poster
    finally:
        os.umask(old_umask)
    modes = {path.name: oct(stat.S_IMODE(path.stat().st_mode)) for path in tmp_path.iterdir()}
    assert sorted(path.suffix for path in tmp_path.iterdir()) == [".jpg", ".json", ".mp4"]
    assert set(modes.values()) == {"0o640"}, modes


async def test_a_long_recording_continues_in_a_new_file_at_a_keyframe(tmp_path):
    async with Rig(tmp_path, recording={"max_clip_seconds": 10}) as rig:
        await rig.camera.run_for(2)
        rig.recorder.record(23)
        await rig.camera.run_for(25)
        clips = await rig.finished_clips(3)
        assert [c.ended_by for c in clips] == ["split: max_clip_seconds"] * 2 + ["finished"]
        indexes = []
        for clip in clips:
            codes = decode_frame_codes(rig.path(clip))
            assert codes[0][2]
            indexes += [c[0] for c in codes]
        # Across the three files, not a frame lost or repeated.
        assert indexes == list(range(indexes[0], indexes[0] + len(indexes)))
        assert 10 <= clips[0].duration_s < 10.6


async def test_no_clip_starts_when_the_disk_is_too_full(tmp_path):
    async with Rig(tmp_path, recording={"min_free_mb": 100_000_000}) as rig:
        await until(lambda: rig.recorder.storage == "full", what="the first storage check")
        await rig.camera.run_for(1)
        rig.recorder.record(1)
        assert not rig.recorder.recording
        assert "disk nearly full" in rig.recorder.last_error


@pytest.mark.root  # mounts a tmpfs
async def test_a_full_disk_ends_the_clip_cleanly(tmp_path, monkeypatch):
    monkeypatch.setattr(recorder_module, "MIN_FREE_FLOOR", 0)  # let the file system itself say "full"
    with tmpfs(tmp_path / "small", 1024) as root:
        async with Rig(root) as rig:
            await rig.camera.run_for(2)
            filler = fill(root, leave_kib=40)
            rig.recorder.record(None)
            await run_until(rig, lambda: not rig.recorder.recording, "the clip to end on ENOSPC")
            (clip,) = await rig.finished_clips()
            assert clip.ended_by == "error: No space left on device"
            assert "No space left" in rig.recorder.last_error
            # What is on disk plays, up to its last complete fragment.
            codes = decode_frame_codes(rig.path(clip))
            indexes = [c[0] for c in codes]
            assert codes[0][2] and len(codes) == clip.frames > FPS
            assert indexes == list(range(indexes[0], indexes[0] + len(indexes)))
            # Room again: the next clip works.
            filler.unlink()
            await until(lambda: rig.recorder.storage == "ok", what="storage to recover")
            rig.recorder.record(1)
            await rig.camera.run_for(2)
            assert (await rig.finished_clips(2))[1].ended_by == "finished"


@pytest.mark.root  # mounts a tmpfs
async def test_a_read_only_file_system_stops_no_stream(tmp_path, monkeypatch):
    monkeypatch.setattr(recorder_module, "HOUSEKEEPING_S", 0.1)
    with tmpfs(tmp_path / "ro", 1024) as root:
        async with Rig(root) as rig:
            await rig.camera.run_for(1)
            remount(root, "ro")
            await until(lambda: rig.recorder.storage == "error", what="the read-only check")
            rig.recorder.record(1)
            await run_until(rig, lambda: not rig.recorder.recording and rig.recorder.last_error, "the clip to fail")
            await until(lambda: rig.recorder.library.clips() == [], what="the empty clip to be dropped")
            assert "read-only" in rig.recorder.storage_detail.lower()
            remount(root, "rw")
            await until(lambda: rig.recorder.storage == "ok", what="storage to recover")
            rig.recorder.record(1)
            await rig.camera.run_for(2)
            await rig.finished_clips(1)


async def test_a_vanished_directory_ends_the_clip_and_comes_back(tmp_path, monkeypatch):
    monkeypatch.setattr(recorder_module, "HOUSEKEEPING_S", 0.1)
    root = tmp_path / "recordings"
    async with Rig(root) as rig:
        await rig.camera.run_for(2)
        rig.recorder.record(None)
        await rig.camera.run_for(1)
        shutil.rmtree(root)  # someone pulled the USB stick, or deleted the folder
        await run_until(rig, lambda: not rig.recorder.recording, "the writer to notice")
        assert "deleted" in rig.recorder.last_error
        await until(lambda: root.is_dir() and rig.recorder.storage == "ok", what="the directory to be made again")
        rig.recorder.record(1)
        await rig.camera.run_for(2)
        await until(lambda: any(c.complete and c.ended_by == "finished" for c in rig.recorder.library.clips()))


async def test_a_camera_that_stops_after_the_planned_end_still_gets_the_clip_closed(tmp_path, monkeypatch):
    monkeypatch.setattr(recorder_module, "HOUSEKEEPING_S", 0.05)
    async with Rig(tmp_path) as rig:
        await rig.camera.run_for(2)
        rig.recorder.record(0.5)
        await rig.camera.run_for(0.5)
        rig.clock.now_us += recorder_module.STALL_US  # the camera is gone; time goes on
        (clip,) = await rig.finished_clips()
        assert clip.ended_by == "finished (camera stalled)"


async def test_storage_too_slow_for_the_camera_ends_the_clip_not_the_memory(tmp_path, monkeypatch):
    stuck = threading.Event()
    original = Mp4Clip.write_video
    monkeypatch.setattr(Mp4Clip, "write_video", lambda self, unit: stuck.wait(10) and original(self, unit))
    async with Rig(tmp_path, recording={"buffer_max_mb": 1}) as rig:
        await rig.camera.run_for(2)
        rig.recorder.record(None)
        await rig.camera.run_for(0.2)
        writer = rig.recorder._clip.writer
        writer.fed_bytes += 2 * MB  # as if the card had fallen behind by 2 MB
        await rig.camera.step()
        assert not rig.recorder.recording and "storage too slow" in rig.recorder.last_error
        stuck.set()
        (clip,) = await rig.finished_clips()
        assert clip.ended_by == "error: storage too slow"


async def test_retention_deletes_old_clips_from_disk_but_never_the_one_being_written(tmp_path, monkeypatch):
    monkeypatch.setattr(recorder_module, "HOUSEKEEPING_S", 0.05)
    async with Rig(tmp_path, recording={"max_age_days": 2 / 86400}) as rig:  # two seconds
        await rig.camera.run_for(2)
        rig.recorder.record(0.5)
        await rig.camera.run_for(2)
        (old,) = await rig.finished_clips()
        rig.recorder.record(None)  # a long clip, itself soon older than two seconds
        await rig.camera.run_for(0.5)
        writing = rig.recorder.library.clips()[0]
        # The library forgets the clip first, then a worker thread deletes its files.
        await until(
            lambda: (
                rig.recorder.library.get(old.name) is None
                and not rig.path(old).exists()
                and not rig.path(old).with_suffix(".json").exists()
            ),
            what="retention to delete the old clip and its sidecar",
        )
        await until(lambda: time.time() - writing.started_at > 2.1, what="the open clip to be old enough too")
        await rig.recorder._housekeep()  # one more retention pass, now that it qualifies by age
        assert rig.recorder.recording
        assert rig.recorder.library.get(writing.name) is not None and rig.path(writing).exists()
