"""The one lifecycle of the daemon's parts (edge/service.py) and the order the daemon keeps."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from edge.app import Daemon
from edge.config import parse_config
from edge.hardware import open_hardware
from edge.service import BackgroundTask, Off, start_all, stop_all


class Part:
    def __init__(self, name: str, log: list[str], fails: bool = False) -> None:
        self.name = name
        self._log = log
        self._fails = fails

    async def start(self) -> None:
        if self._fails:
            raise OSError(f"{self.name} cannot start")
        self._log.append(f"start {self.name}")

    async def stop(self) -> None:
        self._log.append(f"stop {self.name}")


async def test_parts_start_in_order_and_stop_in_reverse():
    log: list[str] = []
    parts = [Part("camera", log), Part("viewers", log), Part("recorder", log)]
    await start_all(parts)
    await stop_all(parts)
    assert log == [
        "start camera",
        "start viewers",
        "start recorder",
        "stop recorder",
        "stop viewers",
        "stop camera",
    ]


async def test_a_part_that_fails_to_start_stops_those_started_before_it():
    log: list[str] = []
    parts = [Part("camera", log), Part("http", log, fails=True), Part("recorder", log)]
    with pytest.raises(OSError, match="http cannot start"):
        await start_all(parts)
    assert log == ["start camera", "stop http", "stop camera"]  # the recorder never started


async def test_one_part_failing_to_stop_does_not_keep_the_others_running(caplog):
    class Stuck(Part):
        async def stop(self) -> None:
            raise RuntimeError("stuck")

    log: list[str] = []
    await stop_all([Part("camera", log), Stuck("mqtt", log), Part("recorder", log)])
    assert log == ["stop recorder", "stop camera"]
    assert "stopping mqtt" in caplog.text


async def test_a_background_task_stops_once_and_may_be_stopped_before_it_started():
    running = BackgroundTask("pump")
    await running.stop()  # never started: nothing to do
    ran = asyncio.Event()

    async def pump() -> None:
        ran.set()
        await asyncio.Event().wait()

    running.start(pump())
    await ran.wait()
    assert running.running
    await running.stop()
    await running.stop()
    assert not running.running


async def test_an_off_part_reports_off_and_starts_and_stops_as_any_other():
    off = Off("mqtt")
    await start_all([off])
    await stop_all([off])
    assert off.status() == {"state": "off"}


def test_the_daemon_stops_what_must_finish_on_a_clean_stop_first(tmp_path):
    """Within the 4.5 s a stop gets: the open clip's index, MQTT's offline, the publish DELETEs."""
    config = parse_config(
        {
            "server": {"state_dir": str(tmp_path)},
            "motion": {"enabled": True},
            "mqtt": {"host": "127.0.0.1"},
            "publish": [{"url": "http://127.0.0.1:9/whip"}],
        }
    )
    daemon = Daemon(config, open_hardware(config, force_simulated=True))
    stop_order = [service.name for service in reversed(daemon.services)]
    assert stop_order[:3] == ["recorder", "mqtt", "publish"]
    start_order = [service.name for service in daemon.services]
    assert start_order.index("motion") < start_order.index("camera")  # a Pi's camera sets up lores at start


async def test_a_bounded_stop_goes_on_without_a_task_that_will_not_end(caplog):
    released = asyncio.Event()

    async def stubborn() -> None:
        while not released.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await released.wait()

    running = BackgroundTask("stubborn")
    running.start(stubborn())
    await asyncio.sleep(0)  # it runs
    await running.stop(timeout=0.05)
    assert "stubborn did not stop within 0.05 s" in caplog.text
    released.set()
