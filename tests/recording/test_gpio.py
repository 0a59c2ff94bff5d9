"""GPIO through gpiozero's MockFactory: polarity, our own debouncing, the LED, simulated wires."""

from __future__ import annotations

import asyncio

import pytest
from gpiozero.pins.mock import MockFactory

from hw.gpio import GpioError
from hw.gpio.simulated import SimulatedGpio
from hw.gpio.zero import GpiozeroGpio
from testbed.media import FakeClock, until

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def factory():
    factory = MockFactory()
    yield factory
    factory.close()


def board(factory, clock=None) -> SimulatedGpio:
    return SimulatedGpio(factory, clock=clock or FakeClock())


# (pull, active, level that means active)
POLARITIES = [
    ("up", "low", "low"),  # a button to ground: the usual doorbell
    ("down", "high", "high"),  # a PIR sensor's output
    ("none", "high", "high"),  # an external pull resistor
    ("none", "low", "low"),
    ("up", "high", "high"),  # unusual, but what the config says goes
    ("down", "low", "low"),
]


@pytest.mark.parametrize("pull, active, active_level", POLARITIES)
async def test_polarity(factory, pull, active, active_level):
    gpio = board(factory)
    changes = []
    pin = gpio.add_input(
        17, pull=pull, active_high=active == "high", debounce_s=0, on_change=lambda a, t: changes.append(a)
    )
    mock = factory.pin(17)
    drive_active, drive_inactive = (
        (mock.drive_high, mock.drive_low) if active_level == "high" else (mock.drive_low, mock.drive_high)
    )
    drive_inactive()
    await until(lambda: not pin.active)
    changes.clear()
    drive_active()
    await until(lambda: changes == [True], what="activation")
    assert pin.active
    drive_inactive()
    await until(lambda: changes == [True, False], what="deactivation")
    # drive() speaks in logical levels, whatever the wiring.
    gpio.drive(17, True)
    await until(lambda: changes == [True, False, True])
    assert mock.state == (active_level == "high")
    gpio.close()


async def test_bounces_count_once_stamped_with_the_edge_that_stayed(factory):
    clock = FakeClock(1_000_000)
    gpio = board(factory, clock)
    changes = []
    pin = gpio.add_input(
        5, pull="up", active_high=False, debounce_s=0.05, on_change=lambda a, t: changes.append((a, t))
    )
    mock = factory.pin(5)
    for _ in range(5):  # a bouncing contact: 10 edges within a few microseconds of fake time
        mock.drive_low()
        clock.now_us += 100
        mock.drive_high()
        clock.now_us += 100
    mock.drive_low()
    stayed_at = clock.now_us
    await until(lambda: changes, what="the debounced press")
    await asyncio.sleep(0.1)  # two debounce times: nothing else comes
    assert changes == [(True, stayed_at)] and pin.active


async def test_a_glitch_shorter_than_the_debounce_is_ignored(factory):
    gpio = board(factory)
    changes = []
    gpio.add_input(6, pull="up", active_high=False, debounce_s=0.05, on_change=lambda a, t: changes.append(a))
    factory.pin(6).drive_low()
    factory.pin(6).drive_high()
    await asyncio.sleep(0.15)
    assert changes == []


async def test_led_on_and_off_in_both_polarities(factory):
    gpio = board(factory)
    led = gpio.add_output(22, active_high=True)
    sink = gpio.add_output(23, active_high=False)  # wired from 3.3 V to the pin
    assert factory.pin(22).state is False and factory.pin(23).state is True  # both off at start
    led.set(True)
    sink.set(True)
    assert factory.pin(22).state is True and factory.pin(23).state is False
    led.set(False)
    assert factory.pin(22).state is False
    gpio.close()
    gpio = board(factory)
    gpio.add_output(22, active_high=True)  # close() released the pins
    gpio.close()


async def test_pins_in_use_and_real_hardware_limits(factory):
    gpio = board(factory)
    gpio.add_input(17, pull="up", active_high=False, debounce_s=0, on_change=lambda a, t: None)
    with pytest.raises(GpioError):
        gpio.add_output(17, active_high=True)
    with pytest.raises(KeyError):
        gpio.drive(4, True)  # not an input
    assert gpio.backend == "simulated"
    real = GpiozeroGpio()  # opens nothing until asked
    assert real.backend == "gpiozero"
    assert not hasattr(real, "drive")  # only the simulated twin's wires can be driven
    gpio.close()
