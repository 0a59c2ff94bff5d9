"""The daemon's configuration: one TOML file, every key with a default.

Each section is a frozen dataclass; each field carries its validator in its
metadata, so the documentation of a key, its default and its check live on one
line. Anything unknown or out of range stops start-up with a message that names
the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast
from urllib.parse import urlsplit

from edge.security.hosts import parse_origin

Validator = Callable[[str, Any], Any]


class ConfigError(ValueError):
    """A configuration problem, phrased for the person who edits the file."""


def _describe(value: Any) -> str:
    return repr(value) if not isinstance(value, str) else f'"{value}"'


def one_of(*choices: str) -> Validator:
    def check(key: str, value: Any) -> str:
        if value not in choices:
            allowed = ", ".join(f'"{c}"' for c in choices)
            raise ConfigError(f"{key} must be one of {allowed}; got {_describe(value)}")
        return value

    return check


def integer(low: int, high: int, *, even: bool = False) -> Validator:
    def check(key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{key} must be an integer from {low} to {high}; got {_describe(value)}")
        if even and value % 2:
            raise ConfigError(f"{key} must be an even number; got {value}")
        return value

    return check


def number(low: float, high: float) -> Validator:
    def check(key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise ConfigError(f"{key} must be a number from {low:g} to {high:g}; got {_describe(value)}")
        return float(value)

    return check


def text(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string; got {_describe(value)}")
    return value


def boolean(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false; got {_describe(value)}")
    return value


def token_text(key: str, value: Any) -> str:
    if not isinstance(value, str) or (value and (len(value) < 16 or not value.isprintable() or " " in value)):
        raise ConfigError(f"{key} must be empty or at least 16 printable characters without spaces")
    return value


def list_of_text(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{key} must be a list of non-empty strings; got {_describe(value)}")
    return tuple(value)


def host_names(key: str, value: Any) -> tuple[str, ...]:
    """Host names or IP addresses, as a browser puts them in ``Host`` (without a port)."""
    if not isinstance(value, list) or not all(
        isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9._:-]+|\[[0-9A-Fa-f:.]+\]", v) for v in value
    ):
        raise ConfigError(
            f'{key} must be a list of host names or addresses, e.g. ["cam.example.org"]; got {_describe(value)}'
        )
    return tuple(v.lower().removeprefix("[").removesuffix("]") for v in value)


def origins(key: str, value: Any) -> tuple[str, ...]:
    """Web origins, ``scheme://host[:port]``, as a browser sends them in ``Origin``."""
    example = 'e.g. ["https://cam.example.org"]'
    if not isinstance(value, list):
        raise ConfigError(f"{key} must be a list of origins, {example}; got {_describe(value)}")
    for origin in value:
        if not isinstance(origin, str) or parse_origin(origin) is None:
            raise ConfigError(f"{key}: {_describe(origin)} is not an origin (scheme://host[:port]), {example}")
    return tuple(v.rstrip("/").lower() for v in value)


def networks(key: str, value: Any) -> tuple[str, ...]:
    """IP addresses or CIDR networks (``10.0.0.0/8``, ``::1``), as written."""
    example = 'e.g. ["127.0.0.1", "10.0.0.0/8"]'
    if not isinstance(value, list):
        raise ConfigError(f"{key} must be a list of addresses or networks, {example}; got {_describe(value)}")
    for network in value:
        try:
            if not isinstance(network, str):  # ip_network takes an int as an address
                raise ValueError("not a string")
            ipaddress.ip_network(network)
        except ValueError as exc:
            raise ConfigError(f"{key}: {_describe(network)} is not an address or network ({exc}), {example}") from None
    return tuple(value)


MANUAL_TRIGGER = "manual"  # the name of clips started over HTTP


def trigger_name(key: str, value: Any) -> str:
    """A name that goes into clip file names: letters, digits, "-" and "_"."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}", value):
        raise ConfigError(f'{key} must be 1 to 32 letters, digits, "-" or "_"; got {_describe(value)}')
    if value == MANUAL_TRIGGER:
        raise ConfigError(f'{key} "{MANUAL_TRIGGER}" is reserved for clips started from the page or the API')
    return value


# Home Assistant's binary sensor device classes (BinarySensorDeviceClass, 2026.2), and what
# [[triggers]] device_class takes besides them.
BINARY_SENSOR_CLASSES = (
    "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door", "garage_door", "gas", "heat",
    "light", "lock", "moisture", "motion", "moving", "occupancy", "opening", "plug", "power", "presence", "problem",
    "running", "safety", "smoke", "sound", "tamper", "update", "vibration", "window",
)  # fmt: skip
AUTO_DEVICE_CLASS = "auto"  # from the trigger's name (edge.mqtt.discovery.input_device_class)
NO_DEVICE_CLASS = "none"


class IceServer(TypedDict):
    """One STUN/TURN server, as RTCIceServer takes it."""

    urls: str | list[str]
    username: NotRequired[str]
    credential: NotRequired[str]


# What a Link header's quoted-string carries as it is (RFC 9725 section 4.6 passes credentials so).
_LINK_SAFE = re.compile(r'[^"\\\x00-\x1f\x7f]*')


def ice_servers(key: str, value: Any) -> tuple[IceServer, ...]:
    """A list of ``{urls = "stun:..." | [...], username = "...", credential = "..."}``."""
    if not isinstance(value, list):
        raise ConfigError(f'{key} must be a list of tables like {{ urls = "stun:host:3478" }}')
    servers: list[IceServer] = []
    for i, server in enumerate(value):
        where = f"{key}[{i}]"
        if not isinstance(server, dict):
            raise ConfigError(f'{where} must be a table like {{ urls = "stun:host:3478" }}')
        unknown = set(server) - {"urls", "username", "credential"}
        if unknown:
            raise ConfigError(f"{where} has unknown key {sorted(unknown)[0]!r}; allowed: urls, username, credential")
        urls = server.get("urls")
        url_list = [urls] if isinstance(urls, str) else urls
        if (
            not isinstance(url_list, list)
            or not url_list
            or not all(
                isinstance(u, str) and u.split(":", 1)[0] in ("stun", "stuns", "turn", "turns") for u in url_list
            )
        ):
            raise ConfigError(f"{where}.urls must be a stun:, stuns:, turn: or turns: URL or a list of them")
        for url in url_list:
            _check_ice_url(f"{where}.urls", url)
        for optional in ("username", "credential"):
            given = server.get(optional)
            if optional in server and (not isinstance(given, str) or not _LINK_SAFE.fullmatch(given)):
                raise ConfigError(
                    f"{where}.{optional} must be a string of printable characters without quotes or backslashes"
                )
        servers.append(cast(IceServer, dict(server)))  # checked above
    return tuple(servers)


def _check_ice_url(key: str, url: str) -> None:
    """The URL as aiortc reads it (RFC 7064/7065: ``turn:host[:port][?transport=udp|tcp]``)."""
    from aiortc.rtcicetransport import parse_stun_turn_uri  # the parser that will read it; loaded only here

    try:
        parsed = parse_stun_turn_uri(url)
    except ValueError:
        raise ConfigError(
            f'{key}: "{url}" is not a STUN/TURN URL like "turn:host:3478?transport=udp" or "stun:host:3478" '
            "(host: a name or an IPv4 address)"
        ) from None
    if parsed.get("transport", "udp") not in ("udp", "tcp"):
        raise ConfigError(f'{key}: "{url}" has transport={parsed["transport"]}; TURN runs over udp or tcp')
    if parsed["scheme"] == "turns" and parsed["transport"] != "tcp":
        raise ConfigError(f'{key}: "{url}": turns: (TURN over TLS) runs over tcp only')


def urls_of(server: IceServer) -> list[str]:
    urls = server["urls"]
    return [urls] if isinstance(urls, str) else list(urls)


def is_turn(server: IceServer) -> bool:
    return any(url.split(":", 1)[0] in ("turn", "turns") for url in urls_of(server))


def key(default: Any, check: Validator, doc: str) -> Any:
    if isinstance(default, (list, dict)):
        raise TypeError("use a tuple default")  # keeps the dataclasses immutable
    return field(default=default, metadata={"check": check, "doc": doc})


def required(check: Validator, doc: str) -> Any:
    """A key with no sensible default (e.g. a trigger's pin): leaving it out stops start-up."""
    return field(default=None, metadata={"check": check, "doc": doc, "required": True})


def _default_state_dir() -> str:
    return os.environ.get("STATE_DIRECTORY") or str(Path.home() / ".local" / "state" / "edge")


@dataclass(frozen=True)
class ServerConfig:
    host: str = key("0.0.0.0", text, 'address to listen on ("::" for IPv6 too)')
    port: int = key(8080, integer(0, 65535), "HTTP port (0: any free port, printed at start)")
    state_dir: str = key("", text, "where the daemon keeps its state; empty: $STATE_DIRECTORY or ~/.local/state/edge")
    https: bool = key(False, boolean, "serve HTTPS instead of HTTP")
    tls_cert: str = key("", text, "PEM certificate (chain) for HTTPS; empty: a self-signed one made at first start")
    tls_key: str = key("", text, "PEM private key for tls_cert")
    allowed_hosts: tuple[str, ...] = key(
        (),
        host_names,
        "with [auth] enabled = false, names the camera answers to besides its own (hostname, hostname.local, "
        'localhost, its addresses), e.g. ["cam.example.org"]; other names get 403 (DNS rebinding)',
    )
    allowed_origins: tuple[str, ...] = key(
        (),
        origins,
        "origins besides the camera's own page whose pages may send state-changing requests with the session "
        'cookie or with auth off, e.g. a reverse proxy\'s ["https://cam.example.org"]',
    )
    trusted_proxies: tuple[str, ...] = key(
        (),
        networks,
        "reverse proxies (addresses or networks) whose X-Forwarded-Proto, -Host, -Prefix and -For headers "
        "count; from anyone else they are ignored",
    )

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir or _default_state_dir())


@dataclass(frozen=True)
class LowStreamConfig:
    enabled: bool = key(
        True,
        boolean,
        "a second, small H.264 stream for viewers on weak links (chosen per viewer, or by hand: SD); "
        "off by itself when the main picture is no larger",
    )
    width: int = key(640, integer(64, 1920, even=True), "its width in pixels")
    height: int = key(0, integer(0, 1080, even=True), "its height in pixels; 0: the main picture's aspect ratio")
    bitrate: int = key(450_000, integer(50_000, 5_000_000), "its H.264 bitrate in bits per second")


@dataclass(frozen=True)
class CameraConfig:
    backend: str = key(
        "auto",
        one_of("auto", "picamera2", "simulated"),
        "auto: picamera2 on a Raspberry Pi (with or without a camera connected), simulated elsewhere",
    )
    width: int = key(1280, integer(64, 4096, even=True), "picture width in pixels")
    height: int = key(720, integer(64, 4096, even=True), "picture height in pixels")
    framerate: int = key(30, integer(1, 120), "frames per second")
    bitrate: int = key(2_000_000, integer(100_000, 50_000_000), "H.264 bitrate in bits per second")
    keyframe_interval: float = key(2.0, number(0.1, 60), "seconds between periodic keyframes")
    # A table inside the section ([camera.low]), loaded and documented as one.
    low: LowStreamConfig = field(default_factory=LowStreamConfig, metadata={"section": LowStreamConfig, "doc": ""})


@dataclass(frozen=True)
class MicrophoneConfig:
    backend: str = key(
        "auto", one_of("auto", "alsa", "simulated", "none"), "auto: ALSA on a Raspberry Pi, simulated elsewhere"
    )
    device: str = key(
        "auto",
        text,
        "ALSA device; auto: the first sound card that can record, through plughw (any format converted); "
        'or e.g. "plughw:CARD=Device,DEV=0"',
    )
    bitrate: int = key(32_000, integer(6_000, 510_000), "Opus bitrate in bits per second")


@dataclass(frozen=True)
class WebRTCConfig:
    ice_servers: tuple[IceServer, ...] = key((), ice_servers, "STUN/TURN servers; none by default (LAN camera)")
    interfaces: tuple[str, ...] = key(
        (), list_of_text, 'offer host candidates only on these interfaces (e.g. ["wlan0"]); empty: all but loopback'
    )
    max_viewers: int = key(16, integer(1, 1000), "viewers at once; more get 503 with Retry-After")
    max_pending: int = key(8, integer(1, 1000), "sessions answered but not yet connected, at once")
    pending_timeout: float = key(20.0, number(2, 300), "seconds a session may take to connect before it is closed")
    restart_timeout: float = key(
        20.0,
        number(2, 300),
        "seconds a viewer whose path broke, or that asked for an ICE restart, has to get a new path "
        "before its session is closed",
    )
    turn_secret: str = key(
        "",
        text,
        "a TURN server's shared secret (coturn: use-auth-secret, static-auth-secret): TURN entries of ice_servers "
        "without username get credentials made from it for each viewer, valid turn_credential_lifetime seconds; "
        "the secret itself never leaves the daemon",
    )
    turn_credential_lifetime: float = key(
        86400.0, number(600, 30 * 86400), "seconds the TURN credentials made from turn_secret stay valid"
    )
    ice_transport_policy: str = key(
        "all",
        one_of("all", "relay"),
        "relay: the camera offers viewers only TURN relay candidates, so its addresses never reach them "
        "(needs a TURN server in ice_servers)",
    )
    turn_timeout: float = key(
        1.5,
        number(0.1, 10),
        "seconds a new viewer's answer waits for the camera's TURN allocation; a TURN server that does not "
        "answer in time is checked again in the background and left out until it answers",
    )

    def __post_init__(self) -> None:
        turn = [i for i, server in enumerate(self.ice_servers) if is_turn(server)]
        for i in turn:
            server = self.ice_servers[i]
            if ("username" in server) != ("credential" in server):
                raise ConfigError(f"webrtc.ice_servers[{i}] needs both username and credential, or neither")
            if "username" not in server and not self.turn_secret:
                raise ConfigError(
                    f"webrtc.ice_servers[{i}] is a TURN server without username and credential: "
                    "set them, or set webrtc.turn_secret (the server's shared secret)"
                )
        if self.ice_transport_policy == "relay" and not turn:
            raise ConfigError(
                'webrtc.ice_transport_policy = "relay" needs a turn: or turns: server in webrtc.ice_servers'
            )


@dataclass(frozen=True)
class NetworkConfig:
    watch: str = key(
        "netlink",
        one_of("netlink", "poll", "off"),
        "how the daemon notices that its addresses or links changed (then viewers are told to restart ICE)",
    )
    debounce: float = key(0.2, number(0, 5), "seconds of quiet after a netlink event before the network is looked at")
    poll_interval: float = key(
        10.0, number(1, 3600), "seconds between looks when nothing was heard (the safety net for missed events)"
    )


@dataclass(frozen=True)
class AuthConfig:
    enabled: bool = key(True, boolean, "require the access token (false: anyone on the network can watch)")
    token: str = key("", token_text, "the access token; empty: generated at first start and kept in <state_dir>/token")
    session_days: int = key(30, integer(1, 3650), "how long a browser stays logged in")


@dataclass(frozen=True)
class RecordingConfig:
    dir: str = key("", text, "where clips go; empty: <state_dir>/recordings")
    pre_seconds: float = key(5.0, number(0, 60), "seconds of video kept from before the trigger")
    post_seconds: float = key(
        5.0, number(0, 600), "seconds recorded after the last trigger (a hold input: after its release)"
    )
    max_clip_seconds: float = key(600.0, number(10, 86400), "longer recordings continue in a new file")
    max_total_mb: int = key(0, integer(0, 100_000_000), "delete the oldest clips beyond this total (0: no limit)")
    max_age_days: float = key(0.0, number(0, 36500), "delete clips older than this (0: keep)")
    min_free_mb: int = key(
        500, integer(0, 100_000_000), "keep this much disk free: delete the oldest clips, else end the clip"
    )
    buffer_max_mb: int = key(
        32,
        integer(1, 4096),
        "memory cap of the pre-trigger buffer (pre_seconds plus up to one keyframe interval), "
        "and of a clip waiting for a slow disk",
    )
    led_pin: int = key(-1, integer(-1, 27), "BCM pin of a status LED lit while recording (-1: none)")
    led_active: str = key("high", one_of("high", "low"), '"low" for an LED wired from 3.3 V to the pin')

    def path(self, state_path: Path) -> Path:
        return Path(self.dir) if self.dir else state_path / "recordings"


@dataclass(frozen=True)
class TriggerConfig:
    name: str = required(trigger_name, "shown on the page and in clip file names (required)")
    pin: int = required(integer(0, 27), "BCM GPIO number (required)")
    pull: str = key("up", one_of("up", "down", "none"), "internal pull resistor")
    active: str = key("low", one_of("low", "high"), 'the level that means "triggered" (a button to ground: low)')
    debounce_ms: int = key(50, integer(0, 10_000), "a change counts once it has held this long")
    mode: str = key("event", one_of("event", "hold"), "event: a clip around each activation; hold: record while active")
    device_class: str = key(
        AUTO_DEVICE_CLASS,
        one_of(AUTO_DEVICE_CLASS, NO_DEVICE_CLASS, *BINARY_SENSOR_CLASSES),
        'what Home Assistant shows the input as ("door": Open/Closed, "motion": Detected/Clear, "none": On/Off); '
        '"auto": from a word of the name (door, window, garage, gate, motion, pir, occupancy, presence, '
        "vibration, smoke, leak, water), otherwise none",
    )


def rectangles(key: str, value: Any) -> tuple[tuple[float, float, float, float], ...]:
    """A list of ``[x0, y0, x1, y1]`` in percent of the picture's width and height."""
    if not isinstance(value, list):
        raise ConfigError(f"{key} must be a list of [x0, y0, x1, y1] rectangles in percent, e.g. [[0, 0, 100, 20]]")
    out = []
    for i, rect in enumerate(value):
        numbers = isinstance(rect, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in rect)
        if not numbers or len(rect) != 4 or not all(0 <= v <= 100 for v in rect):
            raise ConfigError(f"{key}[{i}] must be [x0, y0, x1, y1], each from 0 to 100 (percent); got {rect!r}")
        x0, y0, x1, y1 = (float(v) for v in rect)
        if x1 <= x0 or y1 <= y0:
            raise ConfigError(f"{key}[{i}] must have x1 > x0 and y1 > y0; got {rect!r}")
        out.append((x0, y0, x1, y1))
    return tuple(out)


@dataclass(frozen=True)
class MotionConfig:
    enabled: bool = key(False, boolean, "start clips when the camera sees motion (trigger name: motion)")
    sensitivity: int = key(
        50, integer(1, 100), "how small a change of a pixel counts (100: the smallest; 50: about 30 of 255 levels)"
    )
    min_area: float = key(1.0, number(0.01, 100), "percent of the watched picture that must change to count as motion")
    ignore: tuple[tuple[float, float, float, float], ...] = key(
        (),
        rectangles,
        "rectangles where motion does not count, [x0, y0, x1, y1] in percent, e.g. [[0, 0, 100, 15]]: the top",
    )
    hold_seconds: float = key(3.0, number(0, 600), "motion ends this long after it was last seen")
    fps: int = key(5, integer(1, 30), "pictures a second the detector looks at (320x240 luma, not decoded)")


def page_url(key: str, value: Any) -> str:
    """Empty, or an http:// or https:// URL with a host and no credentials."""
    parts = urlsplit(value) if isinstance(value, str) else None
    if value == "":
        return value
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        raise ConfigError(
            f"{key} must be empty or an http:// or https:// URL without a password; got {_describe(value)}"
        )
    return value


def mqtt_topic(key: str, value: Any) -> str:
    """An MQTT topic to publish under: no wildcards, no empty levels ("" passes: the default)."""
    if not isinstance(value, str) or (value and (re.search(r"[+#\x00]", value) or "" in value.split("/"))):
        raise ConfigError(
            f'{key} must be a topic like "edge/porch" (no "+", "#", empty levels); got {_describe(value)}'
        )
    return value


def mqtt_prefix(key: str, value: Any) -> str:
    if value == "":
        raise ConfigError(f"{key} must not be empty")
    return mqtt_topic(key, value)


@dataclass(frozen=True)
class MqttConfig:
    host: str = key("", text, "MQTT broker for Home Assistant (discovery, states, a record button); empty: MQTT off")
    port: int = key(1883, integer(1, 65535), "broker port (usually 8883 with tls)")
    username: str = key("", text, "user name at the broker; empty: none")
    password: str = key("", text, "password for username")
    tls: bool = key(False, boolean, "connect with TLS (the broker's certificate checked against the system's CAs)")
    topic_prefix: str = key("", mqtt_topic, 'where the camera\'s topics go; empty: "edge/<hostname>"')
    discovery_prefix: str = key("homeassistant", mqtt_prefix, "Home Assistant's MQTT discovery prefix")
    client_id: str = key("", text, 'MQTT client id; empty: "edge-<hostname>"')
    retain_snapshot: bool = key(
        False,
        boolean,
        "keep the last snapshot on the broker (retained) for clients that subscribe later, such as Home Assistant "
        "after a restart; any client allowed to read the topic gets it then",
    )
    configuration_url: str = key(
        "",
        page_url,
        "the link to the camera's page on its Home Assistant device, e.g. a reverse proxy's "
        '"https://cam.example.org/"; empty: the page\'s own URL (http://<hostname>.local:<port>/)',
    )


@dataclass(frozen=True)
class RtspConfig:
    enabled: bool = key(False, boolean, "serve the camera over RTSP at /camera for NVRs and Home Assistant")
    port: int = key(
        8554, integer(0, 65535), "RTSP port (TCP; RTP over UDP uses ports agreed per client); 0: any free port"
    )
    max_clients: int = key(
        32,
        integer(1, 1024),
        "RTSP connections at once, from all addresses; more are closed at once (at most a quarter of the "
        "process's file descriptor limit: the daemon lowers it to that and says so)",
    )
    max_clients_per_address: int = key(
        8, integer(1, 1024), "RTSP connections at once from one address (IPv6: one /64); at most max_clients"
    )
    audio: str = key(
        "aac",
        one_of("aac", "opus", "off"),
        "the microphone's sound for RTSP clients: aac (AAC-LC, what Home Assistant and NVRs keep), "
        "opus (as WebRTC viewers get it) or off (video only)",
    )

    def __post_init__(self) -> None:
        if self.max_clients_per_address > self.max_clients:
            raise ConfigError(
                f"rtsp.max_clients_per_address must be at most rtsp.max_clients ({self.max_clients}); "
                f"got {self.max_clients_per_address}"
            )


@dataclass(frozen=True)
class OnvifConfig:
    enabled: bool = key(
        False,
        boolean,
        "be an ONVIF Profile S camera on the HTTP port (/onvif/device_service) for Home Assistant's ONVIF "
        "integration and NVRs; needs [rtsp] enabled = true",
    )
    discovery: bool = key(
        True,
        boolean,
        "answer WS-Discovery probes (UDP 3702, multicast, IPv4) so clients find the camera: only from the subnets "
        "of the interfaces the HTTP server is reachable on ([server] host's when that is one address)",
    )
    max_subscriptions: int = key(10, integer(1, 100), "event pull-point subscriptions at once (motion, GPIO inputs)")


def whip_url(key: str, value: Any) -> str:
    """An http:// or https:// URL with a host: a WHIP endpoint."""
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{key} must be an http:// or https:// URL (the WHIP endpoint); got {_describe(value)}")
    if "@" in parts.netloc:
        raise ConfigError(f"{key} must not hold a user name or password: put the credential in token")
    return value


def publish_name(key: str, value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}|", value):
        raise ConfigError(f'{key} must be 1 to 32 letters, digits, ".", "-" or "_"; got {_describe(value)}')
    return value


@dataclass(frozen=True)
class PublishConfig:
    url: str = required(whip_url, "the media server's WHIP endpoint (required)")
    token: str = key("", text, "sent as Authorization: Bearer; empty: none")
    ice_servers: tuple[IceServer, ...] = key((), ice_servers, "STUN/TURN servers for this target only; none by default")
    enabled: bool = key(True, boolean, "false: keep the table but do not publish")
    name: str = key("", publish_name, "shown in the status, metrics and page; empty: the URL's host")

    @property
    def label(self) -> str:
        return self.name or urlsplit(self.url).hostname or self.url


@dataclass(frozen=True)
class MetricsConfig:
    token: str = key(
        "",
        token_text,
        "a second token accepted (as Authorization: Bearer) on GET /metrics only; empty: the access token",
    )


@dataclass(frozen=True)
class SimulationConfig:
    av_sync: bool = key(
        False,
        boolean,
        "A/V sync mode of the simulated camera and microphone: at every whole second of the monotonic clock "
        "the picture flashes white for one frame and the microphone beeps (1 kHz, 50 ms) over silence",
    )


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    microphone: MicrophoneConfig = field(default_factory=MicrophoneConfig)
    webrtc: WebRTCConfig = field(default_factory=WebRTCConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    recording: RecordingConfig = field(default_factory=RecordingConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    rtsp: RtspConfig = field(default_factory=RtspConfig)
    onvif: OnvifConfig = field(default_factory=OnvifConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    simulation: SimulationConfig = field(default_factory=SimulationConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    triggers: tuple[TriggerConfig, ...] = field(default=(), metadata={"array_of": TriggerConfig})  # [[triggers]]
    publish: tuple[PublishConfig, ...] = field(default=(), metadata={"array_of": PublishConfig})  # [[publish]]


def _section_classes() -> dict[str, type]:
    return {
        f.name: f.metadata.get("array_of") or (f.type if isinstance(f.type, type) else globals()[f.type])
        for f in dataclasses.fields(Config)
    }


def _array_sections() -> set[str]:
    return {f.name for f in dataclasses.fields(Config) if "array_of" in f.metadata}


def _load_section(name: str, cls: type, table: Any) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"[{name}] must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for k, v in table.items():
        if k not in fields:
            raise ConfigError(f"unknown key {name}.{k}; allowed in [{name}]: {', '.join(fields)}")
        if "section" in fields[k].metadata:
            values[k] = _load_section(f"{name}.{k}", fields[k].metadata["section"], v)
        else:
            values[k] = fields[k].metadata["check"](f"{name}.{k}", v)
    missing = [k for k, f in fields.items() if f.metadata.get("required") and k not in values]
    if missing:
        raise ConfigError(f"{name}.{missing[0]} is required")
    return cls(**values)


def _load_array(name: str, cls: type, value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{name} must be an array of tables: write each one under [[{name}]]")
    return tuple(_load_section(f"{name}[{i}]", cls, table) for i, table in enumerate(value))


def _check_pins(config: Config) -> None:
    """Each trigger has its own name and pin, and none is the LED's pin."""
    names: set[str] = set()
    pins = {config.recording.led_pin: "recording.led_pin"} if config.recording.led_pin >= 0 else {}
    for i, trigger in enumerate(config.triggers):
        if config.motion.enabled and trigger.name == "motion":
            raise ConfigError(f'triggers[{i}].name "motion" is the motion trigger\'s ([motion] enabled = true)')
        if trigger.name in names:
            raise ConfigError(f'triggers[{i}].name "{trigger.name}" is used by another trigger')
        if trigger.pin in pins:
            raise ConfigError(f"triggers[{i}].pin {trigger.pin} is already used by {pins[trigger.pin]}")
        names.add(trigger.name)
        pins[trigger.pin] = f'trigger "{trigger.name}"'


def _check_publish_names(config: Config) -> None:
    """Each publish target has a label of its own: the status and metrics tell them apart by it."""
    labels: dict[str, int] = {}
    for i, target in enumerate(config.publish):
        if target.label in labels:
            raise ConfigError(
                f'publish[{i}] and publish[{labels[target.label]}] are both called "{target.label}": '
                f"give one a name (publish[{i}].name)"
            )
        labels[target.label] = i


def parse_config(data: dict[str, Any]) -> Config:
    sections = _section_classes()
    arrays = _array_sections()
    loaded: dict[str, Any] = {}
    for name, table in data.items():
        if name not in sections:
            raise ConfigError(f"unknown section [{name}]; allowed: {', '.join(f'[{s}]' for s in sections)}")
        load = _load_array if name in arrays else _load_section
        loaded[name] = load(name, sections[name], table)
    config = Config(**loaded)
    _check_pins(config)
    _check_publish_names(config)
    if config.onvif.enabled and not config.rtsp.enabled:
        raise ConfigError("onvif.enabled needs rtsp.enabled = true: ONVIF clients play the camera over RTSP")
    return config


def load_config(path: Path | None) -> Config:
    if path is None:
        return Config()
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    return parse_config(data)


def with_overrides(config: Config, section: str, **values: Any) -> Config:
    """A copy of ``config`` with some keys of one section replaced (validated)."""
    current = getattr(config, section)
    fields = {f.name: f for f in dataclasses.fields(current)}
    checked = {k: fields[k].metadata["check"](f"{section}.{k}", v) for k, v in values.items()}
    return dataclasses.replace(config, **{section: dataclasses.replace(current, **checked)})


def documented_keys() -> list[tuple[str, str, Any, str]]:
    """(section, key, default, description) for every key: docs/configuration.md's tables, ``edge config template``.

    Arrays of tables (``[[triggers]]``, ``[[publish]]``) are left out: their entries have required
    keys with no default to put in a template.
    """
    arrays = _array_sections()
    return [row for name, cls in _section_classes().items() if name not in arrays for row in _section_keys(name, cls)]


def _section_keys(name: str, cls: type) -> list[tuple[str, str, Any, str]]:
    """A section's rows for :func:`documented_keys`, then those of the tables inside it (``[camera.low]``)."""
    fields = dataclasses.fields(cls)
    rows = [(name, f.name, f.default, f.metadata["doc"]) for f in fields if "section" not in f.metadata]
    for f in fields:
        if "section" in f.metadata:
            rows += _section_keys(f"{name}.{f.name}", f.metadata["section"])
    return rows
