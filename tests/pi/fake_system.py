"""Fake /proc, /sys and /dev trees as a Raspberry Pi's kernel shows them (read by hw.platform)."""

from __future__ import annotations

from pathlib import Path

from hw.platform import Platform

PI4_MODEL = "Raspberry Pi 4 Model B Rev 1.4"
PI5_MODEL = "Raspberry Pi 5 Model B Rev 1.0"

# /proc/asound on a Pi 4 with a USB microphone: cards 0 and 1 are HDMI and the headphone
# jack (playback only), the microphone is card 2.
PI4_ASOUND_CARDS = """\
 0 [vc4hdmi0       ]: vc4-hdmi - vc4-hdmi-0
                      vc4-hdmi-0
 1 [Headphones     ]: bcm2835_headpho - bcm2835 Headphones
                      bcm2835 Headphones
 2 [Device         ]: USB-Audio - USB PnP Sound Device
                      C-Media Electronics Inc. USB PnP Sound Device at usb-0000:01:00.0-1.3, full speed
"""
PI4_ASOUND_PCM = """\
00-00: MAI PCM i2s-hifi-0 : MAI PCM i2s-hifi-0 : playback 1
01-00: bcm2835 Headphones : bcm2835 Headphones : playback 8
02-00: USB Audio : USB Audio : playback 1 : capture 1
"""


def fake_system(
    root: Path,
    model: str | None,
    *,
    vc4_encoder: bool = False,
    asound_cards: str = "",
    asound_pcm: str = "",
    gpiochips: int = 0,
) -> Platform:
    def write(relative: str, text: str) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    if model is not None:
        write("proc/device-tree/model", model + "\x00")
    write("etc/os-release", 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n')
    for index, name in ((0, "unicam-image"), (10, "bcm2835-codec-decode"), (11, "bcm2835-codec-encode")):
        if vc4_encoder or index == 0:
            write(f"sys/class/video4linux/video{index}/name", name + "\n")
            write(f"dev/video{index}", "")
    if model is not None:
        write("dev/media0", "")  # the camera's pipeline (libcamera)
    write("proc/asound/cards", asound_cards)
    write("proc/asound/pcm", asound_pcm)
    for chip in range(gpiochips):
        write(f"dev/gpiochip{chip}", "")
    return Platform(root)


def pi4(root: Path, **kwargs) -> Platform:
    kwargs = {
        "vc4_encoder": True,
        "asound_cards": PI4_ASOUND_CARDS,
        "asound_pcm": PI4_ASOUND_PCM,
        "gpiochips": 1,
        **kwargs,
    }
    return fake_system(root, PI4_MODEL, **kwargs)
