"""GPIO on a Pi, through gpiozero 2.0's own lgpio pin factory over a fake lgpio (``fake_lgpio.py``) and a fake /dev.

What an owner sees when GPIO cannot be used (the cause and its fix, not gpiozero's "Unable to load any default pin
factory!"), the pins tried again until the cause is fixed, and edges stamped with the kernel's time of the change.
gpiozero reads the Pi's revision from /proc; here it is told a Pi 4's, and only its lgpio factory is tried
(``GPIOZERO_PIN_FACTORY``): its fall-backs would probe this machine's memory.
"""

from __future__ import annotations

import grp
import logging
import os
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import gpiozero.pins.local
import gpiozero.pins.native
import pytest
from gpiozero import Device, NativePinFactoryFallback
from gpiozero.pins.mock import MockFactory

from edge.backoff import Backoff
from edge.config import RecordingConfig, TriggerConfig
from edge.triggers.gpio import GpioTriggers
from hw.gpio import GpioUnavailable
from hw.gpio.access import chip_problem, gpio_unavailable_reason, groups_of
from hw.gpio.zero import GpiozeroGpio
from testbed.media import FakeClock, until
from tests.pi.fake_lgpio import FakeLgpio

pytestmark = pytest.mark.timeout(30)

PI4_REVISION = 0xC03114  # Raspberry Pi 4 Model B rev 1.4, 4 GB, as /proc/cpuinfo's "Revision" says
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    (tmp_path / "dev").mkdir()
    return tmp_path


def add_chip(root: Path, mode: int = 0o660, group: str | None = None) -> Path:
    """``/dev/gpiochip0`` in the fake tree; ``group``: owned by root and that group (as root only)."""
    chip = root / "dev" / "gpiochip0"
    chip.touch()
    if group is not None:
        os.chown(chip, 0, grp.getgrnam(group).gr_gid)
    chip.chmod(mode)
    return chip


@pytest.fixture
def no_default_factory():
    """gpiozero picks its default factory with the first pin and keeps it: each test starts without one."""
    Device.pin_factory = None
    yield
    if Device.pin_factory is not None:
        Device.pin_factory.close()
        Device.pin_factory = None
    sys.modules.pop("gpiozero.pins.lgpio", None)  # it bound the lgpio of the test


@pytest.fixture
def lgpio(monkeypatch: pytest.MonkeyPatch, fake_root: Path, no_default_factory) -> FakeLgpio:
    fake = FakeLgpio(fake_root / "dev")
    monkeypatch.setitem(sys.modules, "lgpio", fake)
    sys.modules.pop("gpiozero.pins.lgpio", None)
    monkeypatch.setattr(gpiozero.pins.local, "get_pi_revision", lambda: PI4_REVISION)
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "lgpio")
    return fake


@pytest.fixture
def lgpio_missing(monkeypatch: pytest.MonkeyPatch, no_default_factory) -> None:
    monkeypatch.setitem(sys.modules, "lgpio", None)  # import lgpio raises ImportError, as without python3-lgpio
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)


def open_doorbell(gpio: GpiozeroGpio, on_change: Callable[[bool, int], None]):
    return gpio.add_input(17, pull="up", active_high=False, debounce_s=0, on_change=on_change)


# --- the cause, named ------------------------------------------------------------------------------------------------


async def test_lgpio_missing_names_the_package_not_gpiozeros_fallbacks(lgpio_missing, fake_root: Path) -> None:
    add_chip(fake_root)
    # gpiozero's real default: lgpio, rpigpio, pigpio, native, all failing on this machine.
    with pytest.raises(GpioUnavailable) as failure:
        open_doorbell(GpiozeroGpio(root=fake_root), lambda a, t: None)
    assert "lgpio does not import" in str(failure.value)
    assert "sudo apt install python3-lgpio" in str(failure.value)
    assert "Unable to load any default pin factory" not in str(failure.value)


async def test_gpiozeros_other_warnings_still_reach_the_owner(
    lgpio_missing, monkeypatch: pytest.MonkeyPatch, fake_root: Path
) -> None:
    """Only the fall-backs' warnings go into errors; the one saying gpiozero settled for its experimental native
    factory (here a mock standing in, since the real one would probe this machine's memory) is shown as always."""
    monkeypatch.setattr(gpiozero.pins.native, "NativeFactory", MockFactory)
    add_chip(fake_root)
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("default")
        doorbell = open_doorbell(GpiozeroGpio(root=fake_root), lambda a, t: None)
    doorbell.close()
    assert [w.category for w in shown] == [NativePinFactoryFallback], [str(w.message) for w in shown]
    assert "Falling back to the experimental pin factory NativeFactory" in str(shown[0].message)


class SlowPinFactory(MockFactory):
    """Mock pins; while one is made, another thread of the process warns (as any library may, at any time)."""

    def pin(self, name, **kwargs):
        other = threading.Thread(target=warnings.warn, args=("the disk is nearly full", ResourceWarning))
        other.start()
        other.join()
        return super().pin(name, **kwargs)


async def test_a_warning_another_thread_raises_while_a_pin_opens_is_not_lost() -> None:
    factory = SlowPinFactory()
    try:
        with warnings.catch_warnings(record=True) as shown:
            warnings.simplefilter("default")
            open_doorbell(GpiozeroGpio(factory), lambda a, t: None).close()
    finally:
        factory.close()
    assert [(w.category, str(w.message)) for w in shown] == [(ResourceWarning, "the disk is nearly full")]


async def test_no_gpio_chip_says_this_is_not_a_pi(lgpio: FakeLgpio, fake_root: Path) -> None:
    with pytest.raises(GpioUnavailable, match=r"GPIO17: no GPIO chip \(/dev/gpiochip\*\): this is not a Raspberry Pi"):
        open_doorbell(GpiozeroGpio(root=fake_root), lambda a, t: None)


@pytest.mark.root
def test_a_chip_the_user_may_not_open_names_the_group_or_the_udev_rule(lgpio: FakeLgpio, fake_root: Path) -> None:
    """Judged for another user by the chip's real owner, group and mode, and that user's real groups."""
    nobody = groups_of("nobody")
    assert nobody is not None
    chip = add_chip(fake_root, 0o660, "dialout")  # a udev rule gave it to a group "nobody" is not in
    reason = str(chip_problem(chip, "nobody", nobody))
    assert "user nobody may not open /dev/gpiochip0 (owner root:dialout, mode 0660)" in reason
    assert "sudo usermod -aG dialout nobody, then restart the service" in reason
    assert chip_problem(chip, "nobody", {*nobody, "dialout"}) is None
    chip.chmod(0o600)  # no rule at all: root's only, as plain Debian leaves it
    reason = str(chip_problem(chip, "nobody", nobody))
    assert "no udev rule gives the GPIO chips to group gpio" in reason
    assert 'KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"' in reason
    chip.chmod(0o666)
    assert chip_problem(chip, "nobody", nobody) is None
    chip.chmod(0o600)
    assert chip_problem(chip, "root", set()) is None
    assert gpio_unavailable_reason(fake_root) is None  # this process (root) opens it


@pytest.mark.root
def test_this_process_is_refused_the_chip_as_lgpio_would_be(lgpio: FakeLgpio, fake_root: Path) -> None:
    """Without root's power over file modes (as the service user has none), the chip's mode decides."""
    add_chip(fake_root, 0o000, "root")
    script = (
        "import sys; from pathlib import Path; from tests.pi.fake_lgpio import FakeLgpio;"
        "sys.modules['lgpio'] = FakeLgpio(Path(sys.argv[1]) / 'dev');"
        "from hw.gpio.access import gpio_unavailable_reason; print(gpio_unavailable_reason(Path(sys.argv[1])))"
    )
    unprivileged = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all"]
    result = subprocess.run(
        [*unprivileged, sys.executable, "-c", script, str(fake_root)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    assert "user root may not open /dev/gpiochip0 (owner root:root, mode 0000)" in result.stdout
    assert "no udev rule gives the GPIO chips to group gpio" in result.stdout


# --- edges at the kernel's time ------------------------------------------------------------------------------------


async def test_edges_are_stamped_with_lgpios_timestamp_not_when_python_ran(lgpio: FakeLgpio, fake_root: Path) -> None:
    add_chip(fake_root)
    clock = FakeClock()
    gpio = GpiozeroGpio(clock=clock, root=fake_root)
    changes: list[tuple[bool, int]] = []
    doorbell = open_doorbell(gpio, lambda active, at_us: changes.append((active, at_us)))
    try:
        assert gpio.backend == "gpiozero (LGPIOFactory)" and not doorbell.active  # pulled up: not pressed
        # The press happened 100 ms before lgpio's thread got to report it (a busy Pi).
        lgpio.edge(17, 0, time.monotonic_ns() - 100_000_000)
        await until(lambda: changes, what="the press")
        (active, at_us), expected_us = changes[0], clock.now_us - 100_000
        assert active and doorbell.active
        assert abs(at_us - expected_us) < 20_000, f"stamped {clock.now_us - at_us} us before the callback, not 100 ms"
        lgpio.edge(17, 1, time.monotonic_ns())  # released, reported at once
        await until(lambda: len(changes) == 2, what="the release")
        assert changes[1][0] is False and abs(changes[1][1] - clock.now_us) < 20_000
    finally:
        gpio.close()  # gpiozero keeps its pin reservations in a class attribute: release them whatever happened


# --- tried again until it works --------------------------------------------------------------------------------------


class Recorder:
    """What GpioTriggers drives: the clips it would start."""

    recording = False

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    def event(self, name: str, at_us: int) -> None:
        self.events.append((name, at_us))

    def hold(self, name: str, at_us: int | None = None) -> None:
        raise AssertionError("an event input")

    def release(self, name: str, at_us: int) -> None:
        raise AssertionError("an event input")

    def add_listener(self, listener: Callable[[bool], None]) -> None:
        pass


async def test_gpio_is_retried_until_the_chip_appears_and_then_records(
    lgpio: FakeLgpio, fake_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edge.triggers.gpio")
    clock = FakeClock()
    recorder = Recorder()
    triggers = GpioTriggers(
        GpiozeroGpio(clock=clock, root=fake_root),
        (TriggerConfig(name="doorbell", pin=17, debounce_ms=0),),
        RecordingConfig(),
        recorder,
        simulated=False,
        backoff=Backoff(0.05, 0.2),
    )
    await triggers.start()
    try:
        status = triggers.status()
        assert status["last_error"] is not None and "no GPIO chip" in status["last_error"], status
        assert status["inputs"] == [] and status["errors"] == []  # not given up: waiting for the cause to go
        assert "no GPIO chip (/dev/gpiochip*)" in caplog.text and "trying again" in caplog.text
        add_chip(fake_root)  # the GPIO driver loaded (or a udev rule fixed), the daemon still running
        await until(lambda: triggers.status()["inputs"], what="the pin to open on a retry")
        status = triggers.status()
        assert status["last_error"] is None and status["backend"] == "gpiozero (LGPIOFactory)"
        assert "the pins are open now" in caplog.text
        lgpio.edge(17, 0, time.monotonic_ns() - 100_000_000)
        await until(lambda: recorder.events, what="the press to start a clip")
        assert recorder.events[0][0] == "doorbell" and abs(recorder.events[0][1] - (clock.now_us - 100_000)) < 20_000
    finally:
        await triggers.stop()
        triggers.gpio.close()
