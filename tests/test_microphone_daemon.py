"""The daemon with a real ALSA device (the file-plugin fake), and with a broken one."""

from __future__ import annotations

from tests.alsa_fixture import MISSING_DEVICE, fake_alsa_mic
from tests.test_browser_live import open_viewer, wait_for_stats, wait_live

CAMERA = '[camera]\nbackend = "simulated"\nwidth = 640\nheight = 360\n'


def test_sound_from_an_alsa_device_reaches_the_browser(chromium, daemon_factory):
    with fake_alsa_mic(frequency=1000, amplitude=0.5) as mic:
        daemon = daemon_factory(
            CAMERA + f'[microphone]\nbackend = "alsa"\ndevice = "{mic.device}"\n', simulate=False, env=mic.env
        )
        page = open_viewer(chromium, daemon)
        wait_live(page)
        page.click("#unmute")
        # A sine at half of full scale: Chromium's audio level (0..1, linear) near 0.5.
        s = wait_for_stats(page, lambda s: s["audio"] and s["audio"].get("audioLevel", 0) > 0.3)
        assert s["audio"]["mimeType"] == "audio/opus"
        microphone = daemon.health()["microphone"]
        assert (microphone["backend"], microphone["state"]) == ("alsa", "running")
        page.context.close()
        daemon.stop()


def test_a_missing_microphone_means_video_only_with_a_warning(chromium, daemon_factory):
    daemon = daemon_factory(CAMERA + f'[microphone]\nbackend = "alsa"\ndevice = "{MISSING_DEVICE}"\n', simulate=False)
    page = open_viewer(chromium, daemon)
    wait_live(page)
    s = wait_for_stats(page, lambda s: s["video"] and s["video"].get("framesDecoded", 0) > 30)
    assert s["video"]["frameWidth"] == 640
    health = daemon.health()
    assert health["status"] == "degraded"
    assert health["camera"]["state"] == "running"
    assert health["microphone"]["state"] == "restarting"
    assert MISSING_DEVICE in health["microphone"]["last_error"]
    assert "WARNING" in daemon.log() and MISSING_DEVICE in daemon.log()
    assert daemon.proc.poll() is None
