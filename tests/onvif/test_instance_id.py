"""WS-Discovery's InstanceId grows at each start, also on a Pi whose clock starts behind (no RTC)."""

from __future__ import annotations

import time

from edge.onvif.instance_id import FILE_NAME, next_instance_id


def test_each_start_is_one_more_whatever_the_clock_says(tmp_path, monkeypatch):
    first = next_instance_id(tmp_path)
    assert abs(first - time.time()) < 60, "the first is the clock's seconds: no step back from earlier versions"
    monkeypatch.setattr(time, "time", lambda: 1_000_000.0)  # booted with a clock saved long ago
    assert [next_instance_id(tmp_path) for _ in range(3)] == [first + 1, first + 2, first + 3]
    assert (tmp_path / FILE_NAME).read_text().strip() == str(first + 3)


def test_an_unreadable_counter_starts_again_from_the_clock_and_says_so(tmp_path, caplog):
    (tmp_path / FILE_NAME).write_text("garbage")
    assert abs(next_instance_id(tmp_path) - time.time()) < 60
    assert "unreadable" in caplog.text
