"""Reading the machine: Pi model, encoder, sound cards that record; and backends chosen by platform."""

from __future__ import annotations

import tomllib

import pytest

from edge.config import ConfigError, parse_config
from edge.hardware import SimulatedDevices, open_hardware
from hw.camera.pi import PiCamera
from hw.camera.simulated import SimulatedCamera
from hw.microphone.alsa import AlsaMicrophone
from hw.microphone.simulated import SimulatedMicrophone
from hw.platform import PI5_SOFTWARE_ENCODER, VC4_ENCODER
from tests.pi.fake_system import PI5_MODEL, fake_system, pi4


def config(text: str):
    return parse_config(tomllib.loads(text))


def test_a_pi4_is_read_from_its_device_tree_and_v4l2_names(tmp_path):
    platform = pi4(tmp_path)
    assert platform.is_raspberry_pi and not platform.is_pi5 and platform.model_family == 4
    assert platform.h264_encoder() == VC4_ENCODER
    assert platform.os_release()["VERSION_CODENAME"] == "bookworm"
    assert [p.name for p in platform.gpio_chips()] == ["gpiochip0"]


def test_a_pi5_has_the_software_encoder_and_a_laptop_none(tmp_path):
    assert fake_system(tmp_path / "pi5", PI5_MODEL).h264_encoder() == PI5_SOFTWARE_ENCODER
    laptop = fake_system(tmp_path / "laptop", None)
    assert not laptop.is_raspberry_pi and laptop.h264_encoder() is None


def test_only_cards_that_can_record_are_microphones_named_by_their_stable_id(tmp_path):
    devices = pi4(tmp_path).capture_devices()
    assert [(d.card, d.card_id) for d in devices] == [(2, "Device")]
    assert devices[0].plughw == "plughw:CARD=Device,DEV=0"


def test_on_a_pi_without_a_camera_everything_is_real(tmp_path):
    """No camera connected: still picamera2 (which says so and retries), real GPIO, the USB microphone."""
    hardware = open_hardware(config(""), force_simulated=False, platform=pi4(tmp_path))
    assert isinstance(hardware.camera, PiCamera) and not hardware.simulated
    assert hardware.simulated_devices == SimulatedDevices(camera=None, microphone=None, gpio=None)
    assert isinstance(hardware.microphone, AlsaMicrophone)
    assert hardware.microphone.device == "plughw:CARD=Device,DEV=0"


def test_a_pi_with_no_recording_card_streams_video_only(tmp_path, caplog):
    platform = pi4(tmp_path, asound_pcm="00-00: MAI PCM i2s-hifi-0 : MAI PCM i2s-hifi-0 : playback 1\n")
    hardware = open_hardware(config(""), force_simulated=False, platform=platform)
    assert hardware.microphone is None
    assert "No sound card that can record" in caplog.text


def test_off_a_pi_auto_is_simulated_and_simulate_forces_it_on_a_pi(tmp_path):
    laptop = open_hardware(config(""), force_simulated=False, platform=fake_system(tmp_path / "l", None))
    forced = open_hardware(config(""), force_simulated=True, platform=pi4(tmp_path / "pi"))
    for hardware in (laptop, forced):
        assert isinstance(hardware.camera, SimulatedCamera) and hardware.simulated
        assert isinstance(hardware.microphone, SimulatedMicrophone)
        simulated = hardware.simulated_devices
        assert simulated.camera is hardware.camera and simulated.microphone is hardware.microphone
        assert simulated.gpio is hardware.gpio and hardware.gpio.backend == "simulated"


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "[camera]\nwidth = 2592\nheight = 1944\n",
            "camera.width 2592 is more than the VideoCore hardware encoder (bcm2835-codec) takes: at most 1920",
        ),
        (
            "[camera]\nwidth = 1080\nheight = 1920\nbitrate = 40000000\n",
            "camera.bitrate 40000000 is outside what the "
            "VideoCore hardware encoder (bcm2835-codec) "
            "takes: 25000 to 25000000",
        ),
    ],
)
def test_settings_beyond_the_encoder_are_refused_at_start_up_naming_the_limit(tmp_path, text, message):
    with pytest.raises(ConfigError) as error:
        open_hardware(config(text), force_simulated=False, platform=pi4(tmp_path))
    assert str(error.value) == message
    open_hardware(config(text), force_simulated=True, platform=pi4(tmp_path))  # simulated: no limit
