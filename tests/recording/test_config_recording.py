"""[recording] and [[triggers]] in the config file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from edge.config import Config, ConfigError, documented_keys, parse_config


def test_defaults_and_a_full_example():
    assert Config().triggers == () and Config().recording.pre_seconds == 5 and Config().recording.post_seconds == 5
    assert Config().recording.path(Path("/var/lib/edge")) == Path("/var/lib/edge/recordings")
    config = parse_config(
        tomllib.loads("""
        [recording]
        dir = "/mnt/usb/clips"
        pre_seconds = 3
        led_pin = 22
        [[triggers]]
        name = "doorbell"
        pin = 17
        [[triggers]]
        name = "pir"
        pin = 27
        pull = "down"
        active = "high"
        debounce_ms = 200
        mode = "hold"
    """)
    )
    assert config.recording.path(Path("/x")) == Path("/mnt/usb/clips")
    doorbell, pir = config.triggers
    assert (doorbell.pull, doorbell.active, doorbell.mode, doorbell.debounce_ms) == ("up", "low", "event", 50)
    assert (pir.name, pir.pin, pir.pull, pir.active, pir.mode) == ("pir", 27, "down", "high", "hold")


@pytest.mark.parametrize(
    "text, message",
    [
        ('[[triggers]]\nname = "a"\n', "triggers[0].pin is required"),
        ("[[triggers]]\npin = 4\n", "triggers[0].name is required"),
        ('[[triggers]]\nname = "a"\npin = 40\n', "triggers[0].pin must be an integer from 0 to 27; got 40"),
        ('[[triggers]]\nname = "a"\npin = 4\nmode = "toggle"\n', 'triggers[0].mode must be one of "event", "hold"'),
        ('[[triggers]]\nname = "a"\npin = 4\npul = "up"\n', "unknown key triggers[0].pul"),
        ('[[triggers]]\nname = "a/b"\npin = 4\n', "triggers[0].name must be 1 to 32 letters"),
        ('[[triggers]]\nname = "manual"\npin = 4\n', 'triggers[0].name "manual" is reserved'),
        (
            '[[triggers]]\nname = "a"\npin = 4\n[[triggers]]\nname = "a"\npin = 5\n',
            'triggers[1].name "a" is used by another',
        ),
        (
            '[[triggers]]\nname = "a"\npin = 4\n[[triggers]]\nname = "b"\npin = 4\n',
            'triggers[1].pin 4 is already used by trigger "a"',
        ),
        (
            '[recording]\nled_pin = 4\n[[triggers]]\nname = "a"\npin = 4\n',
            "triggers[0].pin 4 is already used by recording.led_pin",
        ),
        ('[triggers]\nname = "a"\npin = 4\n', "write each one under [[triggers]]"),
        ("[recording]\npre_seconds = 120\n", "recording.pre_seconds must be a number from 0 to 60"),
        ('[recording]\nled_active = "on"\n', 'recording.led_active must be one of "high", "low"'),
    ],
)
def test_mistakes_name_the_key(text, message):
    with pytest.raises(ConfigError) as error:
        parse_config(tomllib.loads(text))
    assert message in str(error.value)


def test_documented_keys_cover_recording_but_not_the_trigger_array():
    sections = {section for section, *_ in documented_keys()}
    assert "recording" in sections and "triggers" not in sections
