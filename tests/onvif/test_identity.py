"""The scopes as Home Assistant's config flow reads them when it lists discovered cameras."""

from __future__ import annotations

from edge.onvif.identity import Identity
from testbed.onvif import home_assistant_lists

PI = Identity(model="Raspberry Pi 4 Model B Rev 1.4", serial="10000000abcdef", hostname="garden-cam")


def test_home_assistant_lists_the_name_and_model_readably():
    assert home_assistant_lists(PI.scopes()) == {"name": "garden-cam", "hardware": "Raspberry_Pi_4_Model_B_Rev_1.4"}
    odd = Identity(model="Board 2/B (v1)", serial="1", hostname="cam")
    assert home_assistant_lists(odd.scopes())["hardware"] == "Board_2_B_v1"
    assert all(" " not in scope for scope in PI.scopes()), "scopes are separated by spaces"


def test_audio_is_announced_only_when_the_profile_has_it():
    audio = "onvif://www.onvif.org/type/audio_encoder"
    assert audio not in PI.scopes()
    assert audio in Identity(model="m", serial="s", hostname="h", audio=True).scopes()
