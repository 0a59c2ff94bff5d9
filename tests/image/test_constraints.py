"""image/constraints.txt against pyproject.toml, without network.

install.sh installs the daemon's dependencies from that file with pip's --require-hashes: every
dependency must be pinned there, at a version inside pyproject.toml's range, with the hashes of
its files, except where the venv uses Raspberry Pi OS's own package, which no pin may replace.
`make constraints` remakes the file after a change of pyproject.toml.
"""

from __future__ import annotations

import re

import pytest
from packaging.utils import canonicalize_name

from tests.image.constraints import CONSTRAINTS, FROM_THE_SYSTEM, PYTHONS, dependencies, read_pins, target_pins


def test_it_is_made_by_make_constraints() -> None:
    header = CONSTRAINTS.read_text().splitlines()[:2]
    assert header[1].strip("# ") == "make constraints", header


@pytest.mark.parametrize("python", PYTHONS)
def test_every_dependency_is_pinned_inside_its_range(python: str) -> None:
    pins = {pin.name: pin for pin in read_pins() if pin.applies(python)}
    for requirement in dependencies():
        name = canonicalize_name(requirement.name)
        if python in FROM_THE_SYSTEM.get(name, set()):
            assert name not in pins, f"{name} is Raspberry Pi OS's on Python {python}: a pin would replace it"
            continue
        assert name in pins, f"{requirement} is not in {CONSTRAINTS.name}: run make constraints"
        assert requirement.specifier.contains(pins[name].version, prereleases=True), (
            f"{name}=={pins[name].version} is outside pyproject.toml's {requirement}: run make constraints"
        )


def test_every_pin_has_the_hashes_of_its_files() -> None:
    pins = read_pins()
    assert len(pins) > len(dependencies())  # their dependencies too
    for pin in pins:
        assert pin.hashes, f"{pin.name}=={pin.version} has no hash"
        for value in pin.hashes:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", value), f"{pin.name}: {value}"


def test_one_version_per_package() -> None:
    """install.sh's pip takes every pin whose marker holds: two of one package would clash."""
    names = [pin.name for pin in read_pins()]
    assert len(names) == len(set(names)), sorted(name for name in names if names.count(name) > 1)


@pytest.mark.parametrize("python", PYTHONS)
def test_the_wheelhouse_takes_what_install_sh_installs_on_a_pi(python: str) -> None:
    """image/lib/target_pins.py (the wheelhouse's list) agrees with the pins that apply there."""
    environment = target_pins.target_environment(python, "aarch64")
    listed = target_pins.target_pins(CONSTRAINTS.read_text(), environment)
    expected = [f"{pin.name}=={pin.version}" for pin in read_pins() if pin.applies(python)]
    assert sorted(canonicalize_name(p.split("==")[0]) + "==" + p.split("==")[1] for p in listed) == sorted(expected)
    assert ("av==" in " ".join(listed)) == (python == "3.11"), "Trixie's av is the system's"
