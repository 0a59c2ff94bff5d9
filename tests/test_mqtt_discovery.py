"""What Home Assistant shows of each input: its name and device class, as discovery says them."""

from __future__ import annotations

import pytest

from edge.mqtt.discovery import display_name, input_device_class


@pytest.mark.parametrize(
    "name, expected",
    [
        ("motion", "motion"),
        ("pir", "motion"),
        ("garden-pir", "motion"),
        ("front_door", "door"),
        ("Back-Door", "door"),
        ("kitchen_window", "window"),
        ("garage", "garage_door"),
        ("gate", "opening"),
        ("water_leak", "moisture"),
        ("doorbell", None),  # a word of its own: a button shows On/Off
        ("button", None),
        ("indoor", None),
    ],
)
def test_auto_takes_the_device_class_from_a_word_of_the_name(name, expected):
    assert input_device_class(name) == expected


def test_a_configured_device_class_wins_and_none_means_on_off():
    assert input_device_class("front_door", "window") == "window"
    assert input_device_class("front_door", "none") is None
    assert input_device_class("doorbell", "sound") == "sound"


@pytest.mark.parametrize(
    "name, shown",
    [("motion", "Motion"), ("front_door", "Front door"), ("garage-pir", "Garage pir"), ("PIR_2", "PIR 2")],
)
def test_names_read_as_home_assistant_names_entities(name, shown):
    assert display_name(name) == shown
