"""Choosing hardware backends by name, the way the config asks (kvmd-style)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from edge.config import Config
from hw.camera import Camera, CameraSettings, open_camera, pi_camera_present
from hw.gpio import Gpio, open_gpio
from hw.microphone import Microphone, open_microphone

log = logging.getLogger(__name__)


@dataclass
class Hardware:
    camera: Camera
    microphone: Microphone | None
    simulated: bool
    gpio: Gpio  # gpiozero's mock pins when simulated; no pin is opened until asked


def open_hardware(config: Config, force_simulated: bool) -> Hardware:
    cam = config.camera
    backend = cam.backend
    if force_simulated:
        backend = "simulated"
        log.info("Simulated hardware (--simulate): camera, microphone and GPIO are simulated")
    elif backend == "auto":
        if pi_camera_present():
            backend = "picamera2"
        else:
            backend = "simulated"
            log.info("No Pi camera found: running with simulated camera, microphone and GPIO")
    simulated = backend == "simulated"
    settings = CameraSettings(
        width=cam.width,
        height=cam.height,
        framerate=cam.framerate,
        bitrate=cam.bitrate,
        keyframe_interval=cam.keyframe_interval,
    )
    camera = open_camera(backend, settings)

    mic = config.microphone
    mic_backend = mic.backend
    if mic_backend == "auto":
        mic_backend = "simulated" if simulated else "alsa"
    elif force_simulated and mic_backend != "none":
        mic_backend = "simulated"
    microphone = None if mic_backend == "none" else open_microphone(mic_backend, mic.device)
    if microphone is None:
        log.info("Microphone disabled ([microphone] backend = \"none\"): video only")
    return Hardware(camera=camera, microphone=microphone, simulated=simulated, gpio=open_gpio(simulated))
