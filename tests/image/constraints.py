"""image/constraints.txt read as install.sh's pip reads it: the pins, their markers and hashes."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from dataclasses import dataclass

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.image.conftest import IMAGE, ROOT

CONSTRAINTS = IMAGE / "constraints.txt"
# The Pythons of the releases install.sh supports: Bookworm's, Trixie's.
PYTHONS = ("3.11", "3.13")
# What the venv takes from Raspberry Pi OS, per Python (image/constraints-debian.txt): numpy on
# both releases; av on Trixie, whose python3-av is in our range (Bookworm's is too old).
FROM_THE_SYSTEM = {"numpy": {"3.11", "3.13"}, "av": {"3.13"}}


def _target_pins_module():
    """image/lib/target_pins.py, which the wheelhouse is made with (a script, not a package)."""
    spec = importlib.util.spec_from_file_location("target_pins", IMAGE / "lib" / "target_pins.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


target_pins = _target_pins_module()


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    marker: Marker | None
    hashes: tuple[str, ...]

    def applies(self, python: str) -> bool:
        """On a Pi (Linux, CPython, aarch64) with this Python; on the x86_64 test machines alike."""
        return self.marker is None or self.marker.evaluate(target_pins.target_environment(python, "aarch64"))


def read_pins() -> list[Pin]:
    """Each requirement of the file: backslash-continued lines joined, comments dropped."""
    lines = [line for line in CONSTRAINTS.read_text().splitlines() if not line.lstrip().startswith("#")]
    logical = re.sub(r"\\\n", " ", "\n".join(lines)).splitlines()
    pins = []
    for line in filter(str.strip, logical):
        requirement_text, *hashes = re.split(r"\s+--hash=", line.strip())
        requirement = Requirement(requirement_text)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"not pinned: {line}"
        pins.append(Pin(canonicalize_name(requirement.name), specifier.version, requirement.marker, tuple(hashes)))
    return pins


def dependencies() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"]]
