"""Choosing hardware backends by name, the way the config asks (kvmd-style).

``auto`` is decided by the platform, one device at a time: on a Raspberry Pi the
camera is picamera2, the microphone ALSA and GPIO real, whether or not a camera is
connected (a Pi without one says so and keeps serving clips and the API; its
trigger buttons still work). Anywhere else everything is simulated.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from edge.config import Config, ConfigError
from edge.media import h264
from hw.camera import Camera, CameraSettings, low_stream_settings, open_camera
from hw.camera.pi import MIN_PICAMERA2, picamera2_version
from hw.camera.simulated import SimulatedCamera
from hw.gpio import Gpio, open_gpio
from hw.gpio.simulated import SimulatedGpio
from hw.microphone import Microphone, open_microphone
from hw.microphone.simulated import SimulatedMicrophone
from hw.platform import EncoderLimits, Platform

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulatedDevices:
    """Each device's simulated twin, or None where the device is real (or absent).

    A twin has controls the real device lacks: ``edge/api/simulation.py`` offers them."""

    camera: SimulatedCamera | None
    microphone: SimulatedMicrophone | None
    gpio: SimulatedGpio | None


@dataclass
class Hardware:
    camera: Camera
    microphone: Microphone | None
    gpio: Gpio  # no pin is opened until asked

    @property
    def simulated_devices(self) -> SimulatedDevices:
        """The one answer to "what is simulated here", device by device."""
        camera, microphone, gpio = self.camera, self.microphone, self.gpio
        return SimulatedDevices(
            camera=camera if isinstance(camera, SimulatedCamera) else None,
            microphone=microphone if isinstance(microphone, SimulatedMicrophone) else None,
            gpio=gpio if isinstance(gpio, SimulatedGpio) else None,
        )

    @property
    def simulated(self) -> bool:
        """What the status and the metrics call "simulated": the picture is made up (the camera is)."""
        return self.simulated_devices.camera is not None


def open_hardware(config: Config, force_simulated: bool, platform: Platform | None = None) -> Hardware:
    platform = platform or Platform()
    on_pi = platform.is_raspberry_pi and not force_simulated
    if force_simulated:
        log.info("Simulated hardware (--simulate): camera, microphone and GPIO are simulated")
    elif not platform.is_raspberry_pi:
        log.info('Not a Raspberry Pi: camera, microphone and GPIO are simulated where set to "auto"')

    cam = config.camera
    camera_backend = "simulated" if force_simulated else cam.backend
    if camera_backend == "auto":
        camera_backend = "picamera2" if on_pi else "simulated"
    if camera_backend == "picamera2":
        check_picamera2_version(picamera2_version())
    encoder = platform.h264_encoder() if camera_backend == "picamera2" else None
    check_encoder_limits(config, encoder)
    settings, low = stream_settings(config)
    if cam.low.enabled and low is None:
        log.info("No low stream: the main picture (%dx%d) is no larger than [camera.low]'s", cam.width, cam.height)
    refusal = low_stream_refusal(config, encoder)
    if refusal is not None:
        log.warning("No low stream: %s", refusal)
        low = None
    camera = open_camera(camera_backend, settings, low, av_sync=config.simulation.av_sync)
    return Hardware(
        camera=camera,
        microphone=_open_microphone(config, force_simulated, on_pi, platform),
        gpio=open_gpio(simulated=not on_pi),
    )


def stream_settings(config: Config) -> tuple[CameraSettings, CameraSettings | None]:
    """The camera's main stream's settings and, if ``[camera.low]`` asks for one that is smaller, the low stream's."""
    cam = config.camera
    settings = CameraSettings(
        width=cam.width,
        height=cam.height,
        framerate=cam.framerate,
        bitrate=cam.bitrate,
        keyframe_interval=cam.keyframe_interval,
    )
    low = low_stream_settings(settings, cam.low.width, cam.low.height, cam.low.bitrate) if cam.low.enabled else None
    return settings, low


def _open_microphone(config: Config, force_simulated: bool, on_pi: bool, platform: Platform) -> Microphone | None:
    mic = config.microphone
    backend = mic.backend
    if backend == "none":
        log.info('Microphone disabled ([microphone] backend = "none"): video only')
        return None
    if force_simulated or (backend == "auto" and not on_pi):
        return open_microphone("simulated", av_sync=config.simulation.av_sync)
    device = mic.device
    if device == "auto":
        found = platform.capture_devices()
        if not found:
            log.warning(
                "No sound card that can record was found (arecord -l lists them): video only. "
                'Plug in a USB microphone and restart, or set [microphone] backend = "none".'
            )
            return None
        device = found[0].plughw
        log.info("Microphone: %s (%s)", device, found[0].name)
    return open_microphone("alsa", device)


class Picamera2TooOld(Exception):
    """The installed picamera2 is older than the oldest the daemon supports (``MIN_PICAMERA2``)."""

    fix = "sudo apt update && sudo apt full-upgrade (picamera2 alone: sudo apt install python3-picamera2)"

    def __init__(self, version: str) -> None:
        oldest = ".".join(map(str, MIN_PICAMERA2))
        self.problem = (
            f"{version} is older than {oldest}, the oldest supported "
            "(before it, a viewer who joins waits for the next periodic keyframe)"
        )
        super().__init__(f"picamera2 {self.problem}; update it: {self.fix}")


def check_picamera2_version(version: str | None) -> None:
    """Refuse an old picamera2 at start-up; a missing one is the camera's to report (it retries)."""
    if version is not None and tuple(int(part) for part in re.findall(r"\d+", version)[:3]) < MIN_PICAMERA2:
        raise Picamera2TooOld(version)


def check_encoder_limits(config: Config, encoder: EncoderLimits | None) -> None:
    """Refuse, at start-up, settings the camera's encoder cannot do, naming the keys and the limit.

    Without a Pi's encoder (``None``: simulated, or no Pi) only H.264's own limits apply: those
    of the highest level the daemon declares. The bitrate is held to the encoder's range, not to
    the level's picture limits: above 10 Mbit/s a 1080p30 stream is level 4.1 (the same pictures
    as 4.0), which the encoders write and the daemon declares (``h264.stream_level``)."""
    cam = config.camera
    if encoder is None:
        level = h264.HIGHEST_LEVEL
        holder = "H.264 allows"
        why = f"level {level.name}, the highest the daemon declares"
    else:
        for key_name, value in (("width", cam.width), ("height", cam.height)):
            if value > encoder.max_side:
                raise ConfigError(
                    f"camera.{key_name} {value} is more than the {encoder.name} takes: at most {encoder.max_side}"
                )
        if not encoder.min_bitrate <= cam.bitrate <= encoder.max_bitrate:
            raise ConfigError(
                f"camera.bitrate {cam.bitrate} is outside what the {encoder.name} takes: "
                f"{encoder.min_bitrate} to {encoder.max_bitrate}"
            )
        level = h264.level(encoder.level)
        holder = f"the {encoder.name} takes"
        why = f"H.264 level {level.name}: {encoder.level_reason}"
    size = f"{cam.width}x{cam.height}"
    frame = h264.macroblocks(cam.width, cam.height)
    if frame > level.max_frame_macroblocks:
        raise ConfigError(
            f"camera.width and camera.height: {size} is {frame:,} macroblocks a picture, more than {holder}: "
            f"at most {level.max_frame_macroblocks:,} ({why})"
        )
    rate = frame * cam.framerate
    if rate > level.max_macroblocks_per_second:
        raise ConfigError(
            f"camera.framerate {cam.framerate} at {size} is {rate:,} macroblocks a second, more than {holder}: "
            f"at most {level.max_macroblocks_per_second:,} ({why}); at {size} at most "
            f"{level.max_macroblocks_per_second // frame} fps"
        )


def low_stream_refusal(config: Config, encoder: EncoderLimits | None) -> str | None:
    """Why the camera's encoder cannot also encode the low stream ``[camera.low]`` asks for (None if it can,
    or none is asked for): an encoder whose sessions share its throughput (``EncoderLimits.shared``: the
    VideoCore) is held to its level's macroblock rate for both streams together. The daemon then runs
    main alone: the settings that worked before the low stream existed still start."""
    settings, low = stream_settings(config)
    if low is None or encoder is None or not encoder.shared:
        return None
    level = h264.level(encoder.level)
    both = h264.macroblocks(settings.width, settings.height) + h264.macroblocks(low.width, low.height)
    rate = both * settings.framerate
    if rate <= level.max_macroblocks_per_second:
        return None
    return (
        f"[camera.low] {low.width}x{low.height} beside {settings.width}x{settings.height} at {settings.framerate} fps "
        f"is {rate:,} macroblocks a second, more than the {encoder.name} encodes for both streams: at most "
        f"{level.max_macroblocks_per_second:,} (H.264 level {level.name}: {encoder.level_reason}); with it "
        f"camera.framerate at most {level.max_macroblocks_per_second // both} (or a smaller picture); "
        "[camera.low] enabled = false runs main alone without this warning"
    )
