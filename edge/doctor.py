"""``edge doctor``: what a Pi owner runs when the camera does not show, one line per check.

Each check says what it found and, when something is wrong, the fix. The exit status
is non-zero when something blocks streaming (no camera stack, no camera, no encoder,
a configuration the daemon would refuse). Everything the checks read comes through
:class:`Probes`, so the tests run them on fake machines.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from edge.config import Config, ConfigError, PublishConfig, load_config
from edge.hardware import Picamera2TooOld, check_encoder_limits, check_picamera2_version, low_stream_refusal
from edge.webrtc.ice_servers import IceServerList, RelayServer
from edge.webrtc.turn_check import TurnCheck, TurnState, check_turn
from hw.camera.pi import CameraInfo, list_cameras, picamera2_version
from hw.gpio.access import (
    LGPIO_ERRORS,
    NO_CHIP,
    FileAccess,
    chip_problem,
    file_access,
    groups_of,
    lgpio_location,
    lgpio_problem,
)
from hw.host_addresses import host_addresses
from hw.platform import CaptureDevice, Platform
from hw.port_holders import PortHolder, PortUse, port_use, processes_holding

SERVICE = "edge.service"
SERVICE_USER = "edge"
DEFAULT_CONFIG = Path("/etc/edge/edge.toml")
STATE_DIR = Path("/var/lib/edge")
WHIP_TIMEOUT_S = 5.0
TURN_TIMEOUT_S = 5.0
RESOLVE_TIMEOUT_S = 5.0
_GPIO_UNUSABLE = "GPIO triggers and the LED cannot work"


@dataclass(frozen=True)
class Finding:
    status: str  # "ok", "info", "warn" or "FAIL" (blocks streaming)
    subject: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<4}  {self.subject}: {self.detail}"
        return f"{text}\n      -> {self.fix}" if self.fix else text


def _unit_state(unit: str) -> str:
    if shutil.which("systemctl") is None:
        return "no systemd"
    result = subprocess.run(["systemctl", "is-active", unit], capture_output=True, text=True, check=False)
    return result.stdout.strip() or "unknown"


def _service_state() -> str:
    return _unit_state(SERVICE)


def _avahi_state() -> str:
    return _unit_state("avahi-daemon")


def _resolve(name: str) -> list[str]:
    """The addresses ``name`` resolves to here, as other programs see it (glibc's NSS: mDNS through nss-mdns)."""
    try:
        result = subprocess.run(
            ["getent", "ahosts", name], capture_output=True, text=True, timeout=RESOLVE_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return sorted({line.split()[0] for line in result.stdout.splitlines() if line.strip()})


def _whip_answer(target: PublishConfig) -> int:
    """The HTTP status a WHIP endpoint gives an OPTIONS request (RFC 9725 allows it); raises if none comes."""
    headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
    request = urllib.request.Request(target.url, method="OPTIONS", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=WHIP_TIMEOUT_S) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _turn_answer(server: RelayServer) -> TurnCheck:
    return asyncio.run(check_turn(server, TURN_TIMEOUT_S))


@dataclass
class Probes:
    """Where the checks look; the defaults read this machine."""

    platform: Platform = field(default_factory=Platform)
    picamera2_version: Callable[[], str | None] = picamera2_version
    list_cameras: Callable[[], list[CameraInfo]] = list_cameras
    service_state: Callable[[], str] = _service_state
    groups_of: Callable[[str], set[str] | None] = groups_of
    hostname: Callable[[], str] = socket.gethostname
    whip_answer: Callable[[PublishConfig], int] = _whip_answer
    turn_answer: Callable[[RelayServer], TurnCheck] = _turn_answer
    port_use: Callable[[int], PortUse | None] = port_use
    processes_holding: Callable[[Collection[str]], dict[PortHolder, tuple[str, ...]]] = processes_holding
    sees_all_processes: Callable[[], bool] = lambda: os.geteuid() == 0
    addresses: Callable[[], dict[str, list[str]]] = host_addresses
    avahi_state: Callable[[], str] = _avahi_state
    resolve: Callable[[str], list[str]] = _resolve
    lgpio_location: Callable[[], str] = lgpio_location
    file_access: Callable[[Path], FileAccess] = file_access


def check_system(probes: Probes) -> list[Finding]:
    platform = probes.platform
    release = platform.os_release().get("PRETTY_NAME", "unknown")
    if not platform.is_raspberry_pi:
        return [
            Finding(
                "info",
                "machine",
                f"not a Raspberry Pi ({platform.model or 'no device tree'}); "
                f"{release}: the daemon runs with simulated camera, microphone and GPIO",
            )
        ]
    findings = [Finding("ok", "machine", f"{platform.model}, {release}")]
    encoder = platform.h264_encoder()
    if encoder is None:
        findings.append(
            Finding(
                "FAIL",
                "H.264 encoder",
                "none found (no bcm2835-codec-encode video device)",
                "the kernel's bcm2835_codec module is missing: update Raspberry Pi OS "
                "(sudo apt full-upgrade) and reboot",
            )
        )
    else:
        findings.append(Finding("ok", "H.264 encoder", encoder.name))
    return findings


def check_camera(probes: Probes) -> list[Finding]:
    if not probes.platform.is_raspberry_pi:
        return []
    version = probes.picamera2_version()
    if version is None:
        return [Finding("FAIL", "picamera2", "not installed", "sudo apt install python3-picamera2")]
    try:
        check_picamera2_version(version)
        findings = [Finding("ok", "picamera2", version)]
    except Picamera2TooOld as too_old:
        findings = [Finding("FAIL", "picamera2", f"{too_old.problem}; the daemon does not start", too_old.fix)]
    try:
        cameras = probes.list_cameras()
    except Exception as exc:  # libcamera's own errors are what the owner needs to see
        return [
            *findings,
            Finding(
                "FAIL",
                "cameras",
                f"libcamera failed: {exc}",
                "rpicam-hello --list-cameras shows libcamera's own messages",
            ),
        ]
    if not cameras:
        return [
            *findings,
            Finding(
                "FAIL",
                "cameras",
                "none found",
                "power off, check the ribbon cable (both ends, contacts the right way round), "
                "then rpicam-hello --list-cameras; camera_auto_detect=1 in "
                "/boot/firmware/config.txt, or the dtoverlay for your sensor",
            ),
        ]
    names = ", ".join(f"{c.model} ({c.location})" if c.location else c.model for c in cameras)
    return [*findings, Finding("ok", "cameras", names)]


def check_devices(probes: Probes) -> list[Finding]:
    platform = probes.platform
    findings = []
    microphones = platform.capture_devices()
    if microphones:
        findings.append(Finding("ok", "microphones", ", ".join(f"{m.plughw} ({m.name})" for m in microphones)))
    elif platform.is_raspberry_pi:
        findings.append(
            Finding(
                "info",
                "microphones",
                "no sound card that can record: video only",
                "plug in a USB microphone, or an I2S one with its dtoverlay",
            )
        )
    if not platform.is_raspberry_pi:
        return findings
    findings.append(_lgpio(probes))
    chips = platform.gpio_chips()
    if not chips:
        findings.append(Finding("warn", "GPIO", f"{NO_CHIP.problem}: {_GPIO_UNUSABLE}", NO_CHIP.fix))
    groups = probes.groups_of(SERVICE_USER)
    if groups is None:
        findings.append(
            Finding(
                "info",
                "service user",
                f"no user {SERVICE_USER!r}: the daemon is not installed as a service",
                "sudo ./image/install.sh",
            )
        )
    else:
        missing = [g for g in ("video", "gpio", "audio") if g not in groups]
        if missing:
            findings.append(
                Finding(
                    "warn",
                    "service user",
                    f"{SERVICE_USER} is not in group(s) {', '.join(missing)}",
                    f"sudo usermod -aG {','.join(missing)} {SERVICE_USER} && sudo systemctl restart {SERVICE}",
                )
            )
        if chips:
            findings.append(_gpio_access(probes, chips, groups))
    return findings


def _lgpio(probes: Probes) -> Finding:
    try:
        where = probes.lgpio_location()
    except LGPIO_ERRORS as exc:
        problem = lgpio_problem(exc)
        return Finding("warn", "lgpio", f"{problem.problem}: {_GPIO_UNUSABLE}", problem.fix)
    return Finding("ok", "lgpio", f"imports from {where}")


def _gpio_access(probes: Probes, chips: list[Path], groups: set[str]) -> Finding:
    """Whether the service user may open every GPIO chip (lgpio opens them read-write)."""
    for chip in chips:
        problem = chip_problem(chip, SERVICE_USER, groups, probes.file_access)
        if problem is not None:
            return Finding("warn", "GPIO", f"{problem.problem}: {_GPIO_UNUSABLE}", problem.fix)
    names = ", ".join(chip.name for chip in chips)
    return Finding("ok", "GPIO", f"{names}; {SERVICE_USER} may open them")


def check_camera_users(probes: Probes) -> list[Finding]:
    """Whether another program has the camera's device nodes open (libcamera lets one program have a camera)."""
    if not probes.platform.is_raspberry_pi:
        return []
    devices = probes.platform.camera_devices()
    if not devices:
        return []
    held = {holder: nodes for holder, nodes in probes.processes_holding(devices).items() if holder.pid != os.getpid()}
    others = {holder: nodes for holder, nodes in held.items() if not _is_the_daemon(holder)}
    seen = "" if probes.sees_all_processes() else " among this user's programs (sudo edge doctor sees all)"
    if not others:
        daemon = next(iter(held), None)
        detail = f"open in the daemon only (pid {daemon.pid})" if daemon else f"no other program has it open{seen}"
        return [Finding("ok", "camera users", detail)]
    described = "; ".join(
        f"{holder.name} (pid {holder.pid}) has {', '.join(nodes)}" for holder, nodes in others.items()
    )
    # A pipeline's media device open elsewhere means libcamera there holds the camera; a video node
    # alone (the codec's, the ISP's) may be shared.
    status = "FAIL" if any(node.startswith("/dev/media") for nodes in others.values() for node in nodes) else "warn"
    fix = (
        "stop it (an rpicam-* app, another edge, PipeWire, motion...): sudo systemctl stop its service, or "
        f"sudo kill {next(iter(others)).pid}; then sudo systemctl restart {SERVICE}"
    )
    return [Finding(status, "camera users", f"open elsewhere: {described}", fix)]


def check_network(config: Config, probes: Probes) -> list[Finding]:
    """An interface up with an address, and the ``<hostname>.local`` name answering with one of them."""
    addresses = probes.addresses()
    if not addresses:
        return [
            Finding(
                "FAIL",
                "network",
                "no interface has an address: no viewer can reach the camera",
                "check the cable or the Wi-Fi: nmcli device status; sudo nmtui connects to Wi-Fi",
            )
        ]
    ours = {address for found in addresses.values() for address in found}
    listed = "; ".join(f"{name} {', '.join(found)}" for name, found in addresses.items())
    findings = [Finding("ok", "network", listed)]
    name = f"{probes.hostname()}.local"
    any_address = min(ours, key=lambda address: (":" in address, address))  # IPv4 first
    by_address = f"open http://{any_address if ':' not in any_address else f'[{any_address}]'}:{config.server.port}/"
    avahi = probes.avahi_state()
    if avahi not in ("active", "no systemd", "unknown"):
        fix = "sudo apt install avahi-daemon && sudo systemctl enable --now avahi-daemon"
        findings.append(Finding("warn", name, f"avahi-daemon is {avahi}: the name does not answer; {by_address}", fix))
        return findings
    resolved = probes.resolve(name)
    if not resolved:
        fix = "sudo apt install avahi-daemon libnss-mdns"
        findings.append(Finding("warn", name, f"does not resolve here; {by_address}", fix))
    elif ours.isdisjoint(resolved):
        fix = "give this camera a name of its own: sudo hostnamectl set-hostname NAME (or [system] hostname)"
        detail = f"resolves to {', '.join(resolved)}, none of this machine's: another device has the name"
        findings.append(Finding("warn", name, detail, fix))
    else:
        findings.append(Finding("ok", name, f"answers ({', '.join(sorted(ours.intersection(resolved)))})"))
    return findings


def _alsa_card(device: str) -> str | None:
    """The card an ALSA device name names (``hw:1,0``, ``plughw:CARD=Device,DEV=0``, ``hw:Device``); None for
    other names (``default``, a PCM of the ALSA configuration), which only ALSA itself can check."""
    match = re.fullmatch(r"(?:plug)?hw:(?:CARD=)?([^,]+)(?:,.*)?", device)
    return match.group(1) if match else None


def _is_card(device: CaptureDevice, card: str) -> bool:
    return card in (device.card_id, str(device.card))


def check_microphone(config: Config, probes: Probes) -> list[Finding]:
    """Which sound card ``device = "auto"`` picks, or whether the configured one is there to record from."""
    mic = config.microphone
    if mic.backend == "none" or (mic.backend == "auto" and not probes.platform.is_raspberry_pi):
        return []
    found = probes.platform.capture_devices()
    if mic.device == "auto":
        if not found:
            return []  # check_devices says so
        return [Finding("ok", "microphone", f'"auto" picks {found[0].plughw} ({found[0].name})')]
    card = _alsa_card(mic.device)
    if card is None:
        fix = f"arecord -D {mic.device} -d 1 -f S16_LE /dev/null tries it"
        return [Finding("info", "microphone", f"{mic.device} is an ALSA name this check cannot look up", fix)]
    match = next((device for device in found if _is_card(device, card)), None)
    if match is None:
        cards = ", ".join(device.plughw for device in found) or "none"
        fix = f'set [microphone] device = "auto" or one of those (arecord -l lists them); then restart {SERVICE}'
        detail = f"{mic.device}: no sound card {card} that can record (there are: {cards}): video only"
        return [Finding("warn", "microphone", detail, fix)]
    return [Finding("ok", "microphone", f"{mic.device} ({match.name})")]


def check_config(config_path: Path | None) -> tuple[Config | None, list[Finding]]:
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        return None, [Finding("FAIL", "configuration", str(exc), f"edit {config_path}")]
    where = str(config_path) if config_path else "built-in defaults"
    return config, [Finding("ok", "configuration", where)]


def check_limits(config: Config, probes: Probes) -> list[Finding]:
    if not probes.platform.is_raspberry_pi:
        return []
    encoder = probes.platform.h264_encoder()
    try:
        check_encoder_limits(config, encoder)
    except ConfigError as exc:
        return [Finding("FAIL", "camera settings", str(exc), "edit [camera] in the configuration")]
    refusal = low_stream_refusal(config, encoder)
    if refusal is not None:
        return [Finding("warn", "low stream", f"off: {refusal}", "edit [camera] or [camera.low] in the configuration")]
    return []


def check_storage(config: Config, config_path: Path | None) -> list[Finding]:
    state = STATE_DIR if config_path == DEFAULT_CONFIG and not config.server.state_dir else config.server.state_path
    recordings = config.recording.path(state)
    existing = next((p for p in (recordings, *recordings.parents) if p.exists()), Path("/"))
    free_mb = shutil.disk_usage(existing).free // 2**20
    if not recordings.exists():
        return [
            Finding(
                "warn",
                "recordings",
                f"{recordings} does not exist yet ({free_mb} MB free on its disk)",
                "the daemon makes it at start; install.sh makes it for the service",
            )
        ]
    if not os.access(recordings, os.W_OK):
        return [
            Finding(
                "warn",
                "recordings",
                f"{recordings} is not writable by {pwd.getpwuid(os.getuid()).pw_name}",
                f"run edge doctor as the service user (sudo -u {SERVICE_USER} edge doctor) or as root",
            )
        ]
    status = "ok" if free_mb > config.recording.min_free_mb else "warn"
    fix = "" if status == "ok" else "free some space or lower [recording] min_free_mb"
    return [
        Finding(status, "recordings", f"{recordings}, {free_mb} MB free (keeps {config.recording.min_free_mb})", fix)
    ]


def check_service(config: Config, probes: Probes) -> list[Finding]:
    state = probes.service_state()
    scheme = "https" if config.server.https else "http"
    url = f"{scheme}://{probes.hostname()}.local:{config.server.port}/"
    if state == "active":
        return [
            Finding(
                "ok",
                "service",
                f"{SERVICE} is running; open {url}",
                "" if not config.auth.enabled else "sudo edge-token prints the login URL with the token",
            )
        ]
    if state in ("no systemd", "unknown"):
        return [Finding("info", "service", f"not run by systemd here; `edge run` serves {url}")]
    return [
        Finding(
            "warn",
            "service",
            f"{SERVICE} is {state}",
            f"sudo systemctl restart {SERVICE}; journalctl -u {SERVICE} -n 50 says why it stopped",
        )
    ]


def check_publish(config: Config, probes: Probes) -> list[Finding]:
    """Each enabled [[publish]] target's server answers (whatever it thinks of an OPTIONS request)."""
    findings = []
    for target in config.publish:
        subject = f"publish {target.label}"
        if not target.enabled:
            findings.append(Finding("info", subject, "disabled (enabled = false)"))
            continue
        try:
            status = probes.whip_answer(target)
        except (OSError, ValueError) as error:
            reason = getattr(error, "reason", None) or error
            findings.append(
                Finding("warn", subject, f"no answer from the server ({reason})", "check its url and the Pi's network")
            )
            continue
        if status in (401, 403):
            refusal = f"the server refuses the token (HTTP {status})"
            findings.append(Finding("warn", subject, refusal, "check its token"))
        elif status == 404:
            findings.append(Finding("warn", subject, "the server knows no such endpoint (HTTP 404)", "check its url"))
        else:
            findings.append(Finding("ok", subject, f"the server answers (HTTP {status})"))
    return findings


def check_turn_server(config: Config, probes: Probes) -> list[Finding]:
    """The TURN server the camera relays through gives it a relay, with the configured credentials."""
    server = IceServerList(config.webrtc).relay()
    if server is None:
        return []
    subject = f"TURN {server.url}"
    check = probes.turn_answer(server)
    if check.state is TurnState.OK:
        return [Finding("ok", subject, f"allocates ({check.detail}, {check.seconds * 1000:.0f} ms)")]
    # With the relay policy the camera offers nothing else: no viewer can watch without it.
    relay_only = config.webrtc.ice_transport_policy == "relay"
    status, effect = ("FAIL", "no viewer can watch") if relay_only else ("warn", "viewers away from home get no relay")
    if check.state is TurnState.REFUSED:
        fix = "check webrtc.turn_secret against the server's static-auth-secret (or username/credential)"
        return [Finding(status, subject, f"refuses the camera's allocation: {check.detail}; {effect}", fix)]
    fix = "check the URL, that the server runs, and that the Pi's network lets it through"
    return [Finding(status, subject, f"does not answer: {check.detail}; {effect}", fix)]


def _is_the_daemon(holder: PortHolder) -> bool:
    """``edge run`` (the service's command, or ``python -m edge run``)."""
    names = [Path(arg).name for arg in holder.cmdline]
    return any(names[i : i + 2] == ["edge", "run"] for i in range(len(names)))


def check_rtsp(config: Config, probes: Probes) -> list[Finding]:
    """The RTSP port is free for the daemon, or the daemon's own; else who holds it."""
    port = config.rtsp.port
    if not config.rtsp.enabled or port == 0:
        return []
    use = probes.port_use(port)
    if use is None:
        return [Finding("ok", "RTSP", f"port {port} is free")]
    daemons = [holder for holder in use.holders if _is_the_daemon(holder)]
    if daemons:
        return [Finding("ok", "RTSP", f"port {port} is the daemon's (pid {daemons[0].pid})")]
    if not use.holders:
        unseen = f"{use} by a process this user cannot look into (the daemon, if it runs as a service)"
        return [Finding("info", "RTSP", unseen, "sudo edge doctor names it")]
    fix = f"stop that program, or set [rtsp] port to a free one and sudo systemctl restart {SERVICE}"
    return [Finding("warn", "RTSP", f"{use}: the daemon cannot serve RTSP", fix)]


def diagnose(config_path: Path | None, probes: Probes) -> list[Finding]:
    findings = check_system(probes) + check_camera(probes) + check_camera_users(probes) + check_devices(probes)
    config, config_findings = check_config(config_path)
    findings += config_findings
    if config is not None:
        findings += check_microphone(config, probes) + check_limits(config, probes) + check_storage(config, config_path)
        findings += check_service(config, probes) + check_network(config, probes)
        findings += check_rtsp(config, probes) + check_publish(config, probes) + check_turn_server(config, probes)
    return findings


def run_doctor(config_path: Path | None, probes: Probes | None = None) -> int:
    if config_path is None and DEFAULT_CONFIG.exists():
        config_path = DEFAULT_CONFIG
    findings = diagnose(config_path, probes or Probes())
    for finding in findings:
        print(finding.line())
    blocking = [f for f in findings if f.status == "FAIL"]
    print(f"\n{len(blocking)} problem(s) block streaming" if blocking else "\nnothing blocks streaming")
    return 1 if blocking else 0
