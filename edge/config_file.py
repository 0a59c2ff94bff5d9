"""The configuration file of an installed camera: ``edge config``.

Part of the daemon's package: the template comes from ``edge.config``'s own key
list, and what the boot partition brings is checked with ``edge.config``'s rules.
install.sh and the one-shot ``edge-boot-config.service`` run it as
``/opt/edge/venv/bin/edge config ...``; the sub-commands (see ``edge.cli``):

``template``
    Print the commented configuration file: every key of every section, commented
    out, with its default and description.

``get SECTION KEY [--config FILE] [--default VALUE]``
    Print one value from the configuration (for install.sh's "open this URL").

``apply-boot [--boot FILE] [--config FILE] [--etc DIR] [--live]``
    Merge settings dropped on the boot partition (default
    ``/boot/firmware/edge.toml``) into ``/etc/edge/edge.toml``, then delete the boot
    file so that a secret does not stay on the FAT partition. The boot file uses the
    daemon's format plus an optional ``[system]`` table that is applied to the OS and
    never copied::

        [system]
        hostname = "garden-cam"      # /etc/hostname, /etc/hosts (+ now, with --live)

        [server]
        port = 8080

    The result is validated with ``edge.config.parse_config`` before it replaces the
    configuration; an invalid boot file is renamed ``edge.toml.invalid`` and nothing
    changes. Exit status: 0 applied or nothing to do, 1 invalid input.

Commented-out lines in the configuration follow one convention, which ``template``
writes and ``apply-boot`` relies on: ``#[section]`` and ``#key = value`` (no space
after ``#``) are settings switched off; ``# text`` (with a space) is prose.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from edge.config import Config, ConfigError, PublishConfig, TriggerConfig, documented_keys, parse_config
from edge.files import write_atomic

DEFAULT_CONFIG = Path("/etc/edge/edge.toml")
DEFAULT_BOOT = Path("/boot/firmware/edge.toml")
SYSTEM_TABLE = "system"

HEADER = """\
# /etc/edge/edge.toml: settings of the edge camera daemon (edge.service).
#
# Every setting is listed below, switched off ("#") and showing its default. To
# change one, remove the "#" in front of its [section] line and of the key, e.g.
#
#   [camera]
#   width = 1920
#   height = 1080
#
# then run: sudo systemctl restart edge
# A mistake (unknown key, value out of range) stops the daemon with a message in
# `journalctl -u edge`.
#
# Upgrades never change this file. The template of the installed version is
# /etc/edge/edge.toml.example. Settings can also be put on the SD card's boot
# partition as edge.toml (see /opt/edge/README.md): they are merged in here at the
# next boot, and that file is then deleted.
"""

_HEADER_RE = re.compile(r"^\s*(#)?\[\s*([A-Za-z0-9_.-]+)\s*\]\s*(#.*)?$")
_KEY_RE = re.compile(r"^\s*(#)?([A-Za-z0-9_-]+)\s*=")
_HOSTNAME_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


class BootConfigError(ValueError):
    """The boot partition's file cannot be applied."""


# --------------------------------------------------------------------------- TOML out


def toml_value(value: Any) -> str:
    """Serialise a Python value as a TOML value (strings, numbers, booleans, arrays, tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        # JSON string escapes are valid TOML basic-string escapes.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


# --------------------------------------------------------------------------- template


def example_keys(cls: type, examples: Mapping[str, Any]) -> list[tuple[str, Any, str]]:
    """(key, example, description) of an array-of-tables entry: the example value, or the default."""
    rows = []
    for f in dataclasses.fields(cls):
        value = examples.get(f.name, f.default)
        if value is None or value is dataclasses.MISSING:
            continue
        rows.append((f.name, value, f.metadata.get("doc", "")))
    return rows


def trigger_keys() -> list[tuple[str, Any, str]]:
    """(key, example, description) of a ``[[triggers]]`` entry."""
    return example_keys(TriggerConfig, {"name": "door", "pin": 17})


def publish_keys() -> list[tuple[str, Any, str]]:
    """(key, example, description) of a ``[[publish]]`` entry."""
    return example_keys(PublishConfig, {"url": "https://media.example.net/whip/porch", "token": "s3cret"})


# Arrays of tables, each explained in prose with an example (there are none by default).
ARRAY_EXAMPLES = (
    (
        "triggers",
        "GPIO inputs that start a recording: one [[triggers]] table each (none by\n"
        "default). For example, a door contact between GPIO 17 and ground:",
    ),
    (
        "publish",
        "Media servers to publish the camera to over WHIP (Janus, MediaMTX, LiveKit,\n"
        "Cloudflare...): one [[publish]] table each (none by default). For example:",
    ),
)


def template() -> str:
    """The commented configuration file of this version (``edge config template``)."""
    return render_template(documented_keys(), {"triggers": trigger_keys(), "publish": publish_keys()})


def render_template(
    rows: Iterable[tuple[str, str, Any, str]], arrays: Mapping[str, list[tuple[str, Any, str]]] | None = None
) -> str:
    """The commented configuration file for these rows (and an example of each array of tables)."""
    out = [HEADER.rstrip("\n")]
    section = None
    for name, key, default, doc in rows:
        if name != section:
            out.append(f"\n#[{name}]")
            section = name
        for line in doc.splitlines() or [""]:
            out.append(f"# {line}".rstrip())
        out.append(f"#{key} = {toml_value(default)}")
    for name, prose in ARRAY_EXAMPLES:
        entries = (arrays or {}).get(name)
        if not entries:
            continue
        # An example in prose ("#   "): there is none by default.
        out.append("")
        out.extend(f"# {line}" for line in prose.splitlines())
        out.append("#")
        out.append(f"#   [[{name}]]")
        for key, value, doc in entries:
            out.append(f"#   {key} = {toml_value(value)}".ljust(34) + f" # {doc}".rstrip())
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- merge


def merge_text(text: str, settings: Mapping[str, Mapping[str, Any]]) -> str:
    """Return ``text`` (a TOML file) with ``settings`` ({section: {key: value}}) set.

    Keys are set in place: an active ``key = ...`` line is replaced, otherwise the
    first switched-off ``#key = ...`` line of the section is switched on with the new
    value, otherwise the key is added at the end of the section. A switched-off
    ``#[section]`` header is switched on; a missing section is appended.
    """
    lines = text.splitlines()
    for section, values in settings.items():
        for key, value in values.items():
            lines = _set_key(lines, section, key, value)
    return "\n".join(lines) + "\n"


def _sections(lines: list[str]) -> list[tuple[str, int, bool]]:
    """(name, line index, active) for each section header, active or switched off."""
    found = []
    for i, line in enumerate(lines):
        m = _HEADER_RE.match(line)
        if m:
            found.append((m.group(2), i, m.group(1) is None))
    return found


def _set_key(lines: list[str], section: str, key: str, value: Any) -> list[str]:
    new_line = f"{_toml_key(key)} = {toml_value(value)}"
    headers = _sections(lines)
    # Prefer the active header; else the first switched-off one.
    candidates = [h for h in headers if h[0] == section]
    chosen = next((h for h in candidates if h[2]), candidates[0] if candidates else None)
    if chosen is None:
        while lines and not lines[-1].strip():
            lines.pop()
        return [*lines, "", f"[{section}]", new_line]
    _, start, active = chosen
    # The section's body runs to the next active or switched-off header.
    later = [i for _, i, _ in headers if i > start]
    end = later[0] if later else len(lines)
    lines = list(lines)
    if not active:
        lines[start] = f"[{section}]"
        # A still active section of the same name elsewhere would clash; none exists
        # (chosen prefers active headers).
    body = range(start + 1, end)
    active_at = [i for i in body if (m := _KEY_RE.match(lines[i])) and m.group(2) == key and not m.group(1)]
    if active_at:
        lines[active_at[0]] = new_line
        return lines
    off_at = [i for i in body if (m := _KEY_RE.match(lines[i])) and m.group(2) == key and m.group(1)]
    if off_at:
        lines[off_at[0]] = new_line
        return lines
    # Append after the last non-blank line of the section's body.
    insert = end
    while insert - 1 > start and not lines[insert - 1].strip():
        insert -= 1
    lines.insert(insert, new_line)
    return lines


def validate(data: Mapping[str, Any]) -> None:
    """Check a configuration with the daemon's own rules."""
    try:
        parse_config(dict(data))
    except ConfigError as exc:
        raise BootConfigError(str(exc)) from exc


def _expected(current: Mapping[str, Any], settings: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {k: dict(v) if isinstance(v, Mapping) else v for k, v in current.items()}
    for section, values in settings.items():
        merged.setdefault(section, {}).update(values)
    return merged


def plan_boot_config(boot_text: str, config_text: str) -> tuple[str, str | None]:
    """Return (new configuration text, hostname or None) for a boot file's text."""
    try:
        boot = tomllib.loads(boot_text)
    except tomllib.TOMLDecodeError as exc:
        raise BootConfigError(f"not valid TOML: {exc}") from exc
    system = boot.pop(SYSTEM_TABLE, {})
    if not isinstance(system, dict):
        raise BootConfigError(f"[{SYSTEM_TABLE}] must be a table")
    unknown = set(system) - {"hostname"}
    if unknown:
        raise BootConfigError(f"unknown key {SYSTEM_TABLE}.{sorted(unknown)[0]}; allowed: hostname")
    hostname = system.get("hostname")
    if hostname is not None and (not isinstance(hostname, str) or not _HOSTNAME_RE.match(hostname)):
        raise BootConfigError(
            f"{SYSTEM_TABLE}.hostname must be 1-63 letters, digits or '-' (not at either end); got {hostname!r}"
        )
    for section, values in boot.items():
        if isinstance(values, list):
            raise BootConfigError(
                f"[[{section}]] cannot be set from the boot partition: edit {DEFAULT_CONFIG} on the Pi"
            )
        if not isinstance(values, dict):
            raise BootConfigError(f"{section} must be a [section] table, e.g. [{section}] key = value")
    try:
        current = tomllib.loads(config_text)
    except tomllib.TOMLDecodeError as exc:
        raise BootConfigError(f"the existing configuration is not valid TOML: {exc}") from exc
    expected = _expected(current, boot)
    validate(expected)
    new_text = merge_text(config_text, boot) if boot else config_text
    if tomllib.loads(new_text) != expected:  # the line editor must never lose anything
        raise BootConfigError("could not merge the settings into the configuration safely")
    return new_text, hostname


def _write_in_place(path: Path, text: str) -> None:
    """Overwrite ``path`` without replacing it: the boot service may write these files, not /etc."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def set_hostname(name: str, etc: Path, live: bool) -> None:
    """Write ``name`` to ``etc``/hostname and ``etc``/hosts; with ``live``, apply it now."""
    hostname_file = etc / "hostname"
    old = hostname_file.read_text().strip() if hostname_file.exists() else ""
    _write_in_place(hostname_file, name + "\n")
    hosts = etc / "hosts"
    text = hosts.read_text() if hosts.exists() else "127.0.0.1\tlocalhost\n"
    out, replaced = [], False
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "127.0.1.1":
            out.append(f"127.0.1.1\t{name}")
            replaced = True
        else:
            out.append(line)
    if not replaced:
        out.append(f"127.0.1.1\t{name}")
    _write_in_place(hosts, "\n".join(out) + "\n")
    if live and name != old:
        try:
            subprocess.run(["hostnamectl", "set-hostname", name], check=True)
        except (OSError, subprocess.CalledProcessError):
            socket.sethostname(name)


def get_value(config: Path, section: str, key: str, default: str) -> str:
    """One configured value as text (``edge config get``); ``default`` when unset or unreadable."""
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        data = {}
    return str(data.get(section, {}).get(key, default))


def apply_boot(boot: Path, config: Path, etc: Path, live: bool) -> int:
    """Merge the boot partition's file into the configuration; see the module docstring."""
    if not boot.exists():
        print(f"{boot}: not present, nothing to apply")
        return 0
    try:
        new_text, hostname = plan_boot_config(
            boot.read_text(encoding="utf-8"),
            config.read_text(encoding="utf-8") if config.exists() else "",
        )
    except (BootConfigError, UnicodeDecodeError) as exc:
        invalid = boot.with_name(boot.name + ".invalid")
        os.replace(boot, invalid)
        print(f"{boot}: {exc}; nothing applied, file renamed to {invalid.name}", file=sys.stderr)
        return 1
    # An existing file keeps its owner and mode (root:edge 0640 as install.sh makes it).
    config.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(config, new_text, mode=None if config.exists() else 0o640, keep_owner=True)
    if hostname:
        set_hostname(hostname, etc, live)
        print(f"hostname set to {hostname}")
    boot.unlink()
    print(f"{boot}: merged into {config} and removed")
    return 0


def avahi_service(config: Config) -> str:
    """An Avahi service file that announces the page (and the RTSP stream, when on) on the LAN.

    install.sh puts it in /etc/avahi/services/edge.service, so that discovery apps and
    Home Assistant list the camera; run it again after changing a port.
    """
    scheme = "_https._tcp" if config.server.https else "_http._tcp"
    services = [(scheme, config.server.port, "/")]
    if config.rtsp.enabled:
        services.append(("_rtsp._tcp", config.rtsp.port, "/camera"))
    blocks = "".join(
        f"  <service>\n    <type>{kind}</type>\n    <port>{port}</port>\n"
        f"    <txt-record>path={path}</txt-record>\n  </service>\n"
        for kind, port, path in services
    )
    return (
        '<?xml version="1.0" standalone="no"?>\n'
        '<!DOCTYPE service-group SYSTEM "avahi-service.dtd">\n'
        "<!-- Written by edge-camera's install.sh (edge config avahi). -->\n"
        "<service-group>\n"
        '  <name replace-wildcards="yes">edge camera on %h</name>\n'
        f"{blocks}"
        "</service-group>\n"
    )
