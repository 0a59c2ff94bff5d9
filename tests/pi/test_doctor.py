"""``edge doctor`` on fake Pis: its camera checks go through the real picamera2 over the libcamera stub."""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import pytest

from edge.doctor import Probes, run_doctor
from edge.webrtc.turn_check import check_turn
from hw.gpio.access import FileAccess, file_access
from hw.port_holders import PortUse, processes_holding
from testbed.picamera2_env import TRIXIE, picamera2_as
from tests.pi.fake_system import fake_system, pi4


@pytest.fixture
def libcamera_sees():
    """Run with picamera2 imported; set the cameras libcamera's CameraManager reports."""
    with picamera2_as(TRIXIE, "pi4"):
        import libcamera

        def cameras(*models: str) -> None:
            libcamera.CameraManager.cameras = [
                SimpleNamespace(
                    id=f"/base/soc/i2c0mux/i2c@{i}/{model}@1a",
                    properties={libcamera.ControlId("Model", 1, None): model},
                )
                for i, model in enumerate(models)
            ]

        yield cameras
        libcamera.CameraManager.cameras = []


# A Pi on a home network (documentation addresses: these are never reached, only named).
WLAN0 = "192.0.2.20"


def probes(platform, **overrides) -> Probes:
    defaults = dict(
        platform=platform,
        service_state=lambda: "active",
        hostname=lambda: "garden-cam",
        groups_of=lambda user: {"edge", "video", "gpio", "audio", "render"},
        addresses=lambda: {"wlan0": [WLAN0]},
        avahi_state=lambda: "active",
        resolve=lambda name: [WLAN0] if name == "garden-cam.local" else [],
        lgpio_location=lambda: "/usr/lib/python3/dist-packages/lgpio.py",
        file_access=lambda path: FileAccess("root", "gpio", 0o660),  # Raspberry Pi OS's udev rule
        processes_holding=lambda devices: {},
        sees_all_processes=lambda: True,
    )
    return Probes(**{**defaults, **overrides})


def fake_proc(root: Path, processes: dict[int, tuple[str, list[str], list[str]]]) -> Path:
    """/proc with processes: pid -> (command name, command line, what its descriptors point at)."""
    proc = root / "proc"
    for pid, (name, cmdline, targets) in processes.items():
        (proc / str(pid) / "fd").mkdir(parents=True)
        (proc / str(pid) / "comm").write_text(name + "\n")
        (proc / str(pid) / "cmdline").write_text("\0".join(cmdline) + "\0")
        for fd, target in enumerate(targets, start=3):
            (proc / str(pid) / "fd" / str(fd)).symlink_to(target)
    return proc


def doctor(capsys, config_path=None, **probe_args) -> tuple[int, str]:
    status = run_doctor(config_path, probes(**probe_args))
    return status, capsys.readouterr().out


def test_a_working_pi_passes_and_names_what_it_found(tmp_path, capsys, libcamera_sees):
    libcamera_sees("imx708")
    status, out = doctor(capsys, platform=pi4(tmp_path))
    assert status == 0, out
    assert "ok    machine: Raspberry Pi 4 Model B Rev 1.4, Debian GNU/Linux 12 (bookworm)" in out
    assert "ok    H.264 encoder: VideoCore hardware encoder (bcm2835-codec)" in out
    assert f"ok    picamera2: {TRIXIE}" in out
    assert "ok    cameras: imx708 (/base/soc/i2c0mux/i2c@0/imx708@1a)" in out
    assert "ok    microphones: plughw:CARD=Device,DEV=0 (USB Audio)" in out
    assert "ok    service: edge.service is running; open http://garden-cam.local:8080/" in out
    assert "ok    camera users: no other program has it open" in out
    assert 'ok    microphone: "auto" picks plughw:CARD=Device,DEV=0 (USB Audio)' in out
    assert "ok    lgpio: imports from /usr/lib/python3/dist-packages/lgpio.py" in out
    assert "ok    GPIO: gpiochip0; edge may open them" in out
    assert f"ok    network: wlan0 {WLAN0}" in out
    assert f"ok    garden-cam.local: answers ({WLAN0})" in out
    assert out.rstrip().endswith("nothing blocks streaming")


def test_no_camera_blocks_streaming_and_says_what_to_check(tmp_path, capsys, libcamera_sees):
    libcamera_sees()
    status, out = doctor(capsys, platform=pi4(tmp_path))
    assert status == 1
    assert "FAIL  cameras: none found" in out and "ribbon cable" in out
    assert "1 problem(s) block streaming" in out


def test_missing_or_old_picamera2(tmp_path, capsys, libcamera_sees):
    libcamera_sees("imx219")
    status, out = doctor(capsys, platform=pi4(tmp_path), picamera2_version=lambda: None)
    assert status == 1 and "FAIL  picamera2: not installed\n      -> sudo apt install python3-picamera2" in out
    status, out = doctor(capsys, platform=pi4(tmp_path), picamera2_version=lambda: "0.3.31")
    assert status == 1 and "FAIL  picamera2: 0.3.31 is older than 0.3.32, the oldest supported" in out
    assert "; the daemon does not start\n      -> sudo apt update && sudo apt full-upgrade" in out
    assert "1 problem(s) block streaming" in out
    status, out = doctor(capsys, platform=pi4(tmp_path), picamera2_version=lambda: "0.3.32")
    assert status == 0 and "ok    picamera2: 0.3.32" in out


def test_a_pi_without_the_encoder_device_or_groups(tmp_path, capsys, libcamera_sees):
    libcamera_sees("imx708")
    platform = pi4(tmp_path, vc4_encoder=False, gpiochips=0)
    status, out = doctor(capsys, platform=platform, groups_of=lambda user: {"edge", "video"})
    assert status == 1
    assert "FAIL  H.264 encoder: none found" in out
    assert "warn  GPIO: no GPIO chip (/dev/gpiochip*): GPIO triggers and the LED cannot work" in out
    assert "-> this is not a Raspberry Pi, or its GPIO driver is not loaded" in out
    assert "warn  service user: edge is not in group(s) gpio, audio" in out
    assert "sudo usermod -aG gpio,audio edge" in out


def test_settings_the_encoder_cannot_do_and_a_broken_config_are_named(tmp_path, capsys, libcamera_sees):
    libcamera_sees("imx708")
    config = tmp_path / "edge.toml"
    config.write_text("[camera]\nwidth = 2592\nheight = 1944\n")
    status, out = doctor(capsys, config, platform=pi4(tmp_path / "pi"))
    assert status == 1 and "FAIL  camera settings: camera.width 2592 is more than" in out
    config.write_text("[camera]\nwidht = 1280\n")
    status, out = doctor(capsys, config, platform=pi4(tmp_path / "pi"))
    assert status == 1 and "FAIL  configuration: unknown key camera.widht" in out


def test_settings_beyond_the_encoders_h264_level_are_named_with_the_limit(tmp_path, capsys, libcamera_sees):
    libcamera_sees("imx708")
    config = tmp_path / "edge.toml"
    config.write_text("[camera]\nwidth = 1920\nheight = 1080\nframerate = 60\n")
    status, out = doctor(capsys, config, platform=pi4(tmp_path / "pi"))
    assert status == 1
    assert "FAIL  camera settings: camera.framerate 60 at 1920x1080 is 489,600 macroblocks a second" in out
    assert "at most 245,760 (H.264 level 4.0: 1080p30, what its driver rates the hardware for)" in out


def test_a_low_stream_the_encoder_cannot_also_encode_is_a_warning(tmp_path, capsys, libcamera_sees):
    libcamera_sees("imx708")
    config = tmp_path / "edge.toml"
    config.write_text("[camera]\nwidth = 1920\nheight = 1080\nframerate = 30\n")
    status, out = doctor(capsys, config, platform=pi4(tmp_path / "pi"))
    assert status == 0, out
    assert "warn  low stream: off: [camera.low] 640x360 beside 1920x1080 at 30 fps is 272,400 macroblocks" in out
    assert "camera.framerate at most 27" in out
    config.write_text("[camera]\nwidth = 1920\nheight = 1080\nframerate = 30\n[camera.low]\nenabled = false\n")
    status, out = doctor(capsys, config, platform=pi4(tmp_path / "pi"))
    assert status == 0 and "low stream" not in out


def test_off_a_pi_nothing_blocks(tmp_path, capsys):
    status, out = doctor(capsys, platform=fake_system(tmp_path, None), service_state=lambda: "no systemd")
    assert status == 0
    assert "info  machine: not a Raspberry Pi" in out


def test_publish_targets_are_asked_whether_they_answer(tmp_path, capsys):
    """Real requests: a local HTTP server that answers OPTIONS, one that refuses the token, a closed port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_OPTIONS(self):  # named by the http.server API
            self.send_response(204 if self.headers.get("Authorization") == "Bearer good-token" else 403)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    closed = socket.create_server(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    url = f"http://127.0.0.1:{server.server_port}/whip"
    config = tmp_path / "edge.toml"
    config.write_text(
        f'[[publish]]\nurl = "{url}"\ntoken = "good-token"\nname = "good"\n'
        f'[[publish]]\nurl = "{url}"\ntoken = "bad-token"\nname = "bad"\n'
        f'[[publish]]\nurl = "http://127.0.0.1:{closed_port}/whip"\nname = "gone"\n'
        f'[[publish]]\nurl = "{url}"\nname = "off"\nenabled = false\n'
    )
    try:
        status, out = doctor(capsys, config, platform=fake_system(tmp_path, None), service_state=lambda: "no systemd")
    finally:
        server.shutdown()
    assert status == 0, out  # a media server out of reach does not stop the camera streaming
    assert "ok    publish good: the server answers (HTTP 204)" in out
    assert "warn  publish bad: the server refuses the token (HTTP 403)\n      -> check its token" in out
    assert "warn  publish gone: no answer from the server ([Errno 111] Connection refused)" in out
    assert "info  publish off: disabled (enabled = false)" in out


def test_a_turn_server_that_does_not_answer_is_a_warning(tmp_path, capsys):
    """A real Allocate, to a loopback port that reads and never answers (a TURN server that is down)."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    config = tmp_path / "edge.toml"
    config.write_text(f'[webrtc]\nice_servers = [{{ urls = "turn:127.0.0.1:{port}" }}]\nturn_secret = "s"\n')
    try:
        status, out = doctor(
            capsys,
            config,
            platform=fake_system(tmp_path, None),
            service_state=lambda: "no systemd",
            turn_answer=lambda server: asyncio.run(check_turn(server, 0.5)),
        )
    finally:
        silent.close()
    assert status == 0, out  # viewers on the LAN still watch
    assert (
        f"warn  TURN turn:127.0.0.1:{port}?transport=udp: does not answer: no answer within 0.5 s; "
        "viewers away from home get no relay\n      -> check the URL" in out
    )


def test_an_rtsp_port_held_by_a_process_this_user_cannot_see_into(tmp_path, capsys):
    """As a user, the service's process (user edge) is not ours to read: the port is in use, by nobody named."""
    config = tmp_path / "edge.toml"
    config.write_text("[rtsp]\nenabled = true\n")
    status, out = doctor(capsys, config, platform=fake_system(tmp_path, None), port_use=lambda port: PortUse(port, ()))
    assert status == 0
    assert "info  RTSP: port 8554 is in use by a process this user cannot look into" in out
    assert "-> sudo edge doctor names it" in out


def test_another_program_holding_the_camera_blocks_streaming_and_is_named(tmp_path, capsys, libcamera_sees):
    """The real /proc walk, over a fake /proc: rpicam-vid has the camera; the daemon's own use is fine."""
    libcamera_sees("imx708")
    daemon = (100, ("python3", ["/opt/edge/venv/bin/python3", "/opt/edge/venv/bin/edge", "run"], ["/dev/video11"]))
    rpicam = (4242, ("rpicam-vid", ["rpicam-vid", "-t", "0"], ["/dev/null", "/dev/media0", "/dev/video0"]))
    proc = fake_proc(tmp_path / "host", dict([daemon, rpicam]))
    status, out = doctor(capsys, platform=pi4(tmp_path), processes_holding=partial(processes_holding, proc=proc))
    assert status == 1
    assert "FAIL  camera users: open elsewhere: rpicam-vid (pid 4242) has /dev/media0, /dev/video0" in out
    assert "sudo kill 4242" in out

    proc = fake_proc(tmp_path / "daemon-only", dict([daemon]))
    status, out = doctor(
        capsys,
        platform=pi4(tmp_path),
        processes_holding=partial(processes_holding, proc=proc),
        sees_all_processes=lambda: False,
    )
    assert status == 0, out
    assert "ok    camera users: open in the daemon only (pid 100)" in out

    status, out = doctor(capsys, platform=pi4(tmp_path), sees_all_processes=lambda: False)
    assert (
        "ok    camera users: no other program has it open among this user's programs (sudo edge doctor sees all)" in out
    )


def test_no_network_or_a_local_name_that_does_not_answer(tmp_path, capsys, libcamera_sees):
    libcamera_sees("imx708")
    status, out = doctor(capsys, platform=pi4(tmp_path), addresses=lambda: {})
    assert status == 1
    assert "FAIL  network: no interface has an address: no viewer can reach the camera" in out
    assert "-> check the cable or the Wi-Fi: nmcli device status" in out

    status, out = doctor(capsys, platform=pi4(tmp_path), avahi_state=lambda: "inactive")
    assert status == 0
    assert (
        f"warn  garden-cam.local: avahi-daemon is inactive: the name does not answer; open http://{WLAN0}:8080/" in out
    )
    assert "-> sudo apt install avahi-daemon && sudo systemctl enable --now avahi-daemon" in out

    status, out = doctor(capsys, platform=pi4(tmp_path), resolve=lambda name: [])
    assert f"warn  garden-cam.local: does not resolve here; open http://{WLAN0}:8080/" in out
    assert "-> sudo apt install avahi-daemon libnss-mdns" in out

    status, out = doctor(capsys, platform=pi4(tmp_path), resolve=lambda name: ["192.0.2.99"])
    assert "warn  garden-cam.local: resolves to 192.0.2.99, none of this machine's: another device has the name" in out
    assert "-> give this camera a name of its own" in out


def test_lgpio_missing_and_gpio_chips_the_service_user_may_not_open(tmp_path, capsys, libcamera_sees):
    """lgpio as this machine has it (not installed: the real import fails), and the chip's real permissions."""
    libcamera_sees("imx708")
    platform = pi4(tmp_path)
    (chip,) = platform.gpio_chips()
    chip.chmod(0o600)
    status, out = doctor(
        capsys, platform=platform, lgpio_location=Probes.lgpio_location, file_access=Probes.file_access
    )
    assert status == 0  # streaming goes on; triggers and the LED do not
    assert "warn  lgpio: lgpio does not import (No module named 'lgpio'): GPIO triggers and the LED cannot work" in out
    assert "-> sudo apt install python3-lgpio; a venv must see the system's packages" in out
    owner = file_access(chip)  # whoever runs the tests made the fake chip
    assert (
        f"warn  GPIO: user edge may not open /dev/gpiochip0 (owner {owner.owner}:{owner.group}, mode 0600), and no "
        "udev rule gives the GPIO chips to group gpio: GPIO triggers and the LED cannot work"
    ) in out
    assert 'SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"' in out

    status, out = doctor(capsys, platform=platform, groups_of=lambda user: {"edge", "video", "audio"})
    assert "warn  GPIO: user edge may not open /dev/gpiochip0 (owner root:gpio, mode 0660)" in out
    assert "-> sudo usermod -aG gpio edge, then restart the service" in out

    status, out = doctor(capsys, platform=platform, file_access=lambda path: FileAccess("edge", "edge", 0o600))
    assert "ok    GPIO: gpiochip0; edge may open them" in out  # its owner


@pytest.mark.parametrize(
    ("device", "line"),
    [
        ("plughw:CARD=Device,DEV=0", "ok    microphone: plughw:CARD=Device,DEV=0 (USB Audio)"),
        ("hw:2,0", "ok    microphone: hw:2,0 (USB Audio)"),
        (
            "plughw:CARD=Mic,DEV=0",
            "warn  microphone: plughw:CARD=Mic,DEV=0: no sound card Mic that can record "
            "(there are: plughw:CARD=Device,DEV=0): video only\n"
            '      -> set [microphone] device = "auto" or one of those',
        ),
        ("hw:1,0", "warn  microphone: hw:1,0: no sound card 1 that can record"),  # the headphone jack plays only
        ("fakemic", "info  microphone: fakemic is an ALSA name this check cannot look up"),
    ],
)
def test_a_configured_microphone_is_looked_up(tmp_path, capsys, libcamera_sees, device, line):
    libcamera_sees("imx708")
    config = tmp_path / "edge.toml"
    config.write_text(f'[microphone]\ndevice = "{device}"\n')
    status, out = doctor(capsys, config, platform=pi4(tmp_path / "pi"))
    assert status == 0, out
    assert line in out
