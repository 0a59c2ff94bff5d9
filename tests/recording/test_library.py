"""The clip index (sidecars, recovery after a crash, safe names) and retention."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from edge.recording.library import INTERRUPTED, ClipInfo, Library, valid_name
from edge.recording.retention import MB, Limits, choose_deletions
from tests.recording.test_mp4 import write_clip

DAY = 86400


def clip(name: str, age_days: float, mb: float, complete: bool = True, now: float = 1e9) -> ClipInfo:
    return ClipInfo(name=name, trigger="t", started_at=now - age_days * DAY, size_bytes=int(mb * MB), complete=complete)


def test_retention_deletes_the_oldest_first_until_every_limit_holds():
    now = 1e9
    clips = [clip("a", 9, 10), clip("b", 5, 10), clip("c", 1, 10), clip("d", 0.1, 10)]
    plenty = 10**12
    assert choose_deletions(clips, plenty, now, Limits()) == []
    assert choose_deletions(clips, plenty, now, Limits(max_age_s=3 * DAY)) == ["a", "b"]
    assert choose_deletions(clips, plenty, now, Limits(max_total_bytes=25 * MB)) == ["a", "b"]
    assert choose_deletions(clips, 5 * MB, now, Limits(min_free_bytes=20 * MB)) == ["a", "b"]
    assert choose_deletions(clips, 5 * MB, now, Limits(min_free_bytes=1000 * MB)) == ["a", "b", "c", "d"]


def test_retention_never_deletes_a_clip_being_written():
    now = 1e9
    clips = [clip("writing", 9, 50, complete=False), clip("old", 5, 10), clip("new", 1, 10)]
    # Over the total, and the oldest clip is the one being written: it counts, but stays.
    assert choose_deletions(clips, 10**12, now, Limits(max_total_bytes=40 * MB)) == ["old", "new"]
    assert choose_deletions(clips, 0, now, Limits(min_free_bytes=15 * MB)) == ["old", "new"]


@pytest.mark.parametrize(
    "name",
    [
        "../edge.toml",
        "/etc/passwd",
        "20260101-120000_door.mp4/..",
        "x.mp4",
        "20260101-120000_door.json",
        "20260101-120000_do or.mp4",
        ".mp4",
        "",
    ],
)
def test_only_clip_names_are_valid(name):
    assert not valid_name(name)
    with pytest.raises(ValueError):
        Library(Path("/tmp")).path(name)


def test_new_names_carry_start_time_and_trigger_and_never_collide(tmp_path):
    library = Library(tmp_path)
    t = time.mktime((2026, 3, 4, 5, 6, 7, 0, 0, -1))
    names = [library.new_clip("door", t).name for _ in range(3)]
    assert names == ["20260304-050607_door.mp4", "20260304-050607_door-2.mp4", "20260304-050607_door-3.mp4"]
    assert all(valid_name(n) for n in names)


def test_sidecars_make_the_index_and_cut_off_clips_are_recovered(tmp_path):
    library = Library(tmp_path)
    done = library.new_clip("door", time.time() - 60)
    write_clip(tmp_path / done.name, 2)
    done.complete, done.duration_s, done.size_bytes, done.ended_by = True, 2.0, 123, "finished"
    library.save(done)

    # A clip the daemon was writing when it was killed: its sidecar says so, its last fragment is torn.
    cut = library.new_clip("pir", time.time() - 30)
    write_clip(tmp_path / cut.name, 4)
    library.save(cut)
    os.truncate(tmp_path / cut.name, (tmp_path / cut.name).stat().st_size - 3000)
    # One with no sidecar at all (a power cut before it was written), one with nothing in it,
    # a sidecar whose clip is gone, and a half-written sidecar.
    write_clip(tmp_path / "20260101-000000_manual.mp4", 2)
    (tmp_path / "20260101-000001_manual.mp4").write_bytes(b"\0\0\0\x18ftypisom")
    (tmp_path / "20250101-000000_gone.json").write_text("{}")
    (tmp_path / "20260101-000002_notours.mp4").write_text("not an MP4 file: never trimmed nor deleted")
    (tmp_path / "x.json.tmp").write_text("{")

    found = {c.name: c for c in Library(tmp_path).scan()}
    assert set(found) == {done.name, cut.name, "20260101-000000_manual.mp4"}
    assert found[done.name].size_bytes == 123  # a complete sidecar is trusted: the video is not re-read
    recovered = found[cut.name]
    assert recovered.complete and recovered.ended_by == INTERRUPTED
    assert 2.0 < recovered.duration_s < 4.0 and recovered.size_bytes == (tmp_path / cut.name).stat().st_size
    assert json.loads((tmp_path / cut.name.replace(".mp4", ".json")).read_text())["complete"] is True
    assert found["20260101-000000_manual.mp4"].trigger == "manual"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [done.name, cut.name, "20260101-000000_manual.mp4", "20260101-000002_notours.mp4"]
        + [n.replace(".mp4", ".json") for n in found]
    )
    assert (tmp_path / "20260101-000002_notours.mp4").read_text().startswith("not an MP4")
