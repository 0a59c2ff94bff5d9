"""The pins of image/constraints.txt that pip installs on one Python and machine, as name==version.

constraints.txt is universal: its markers cover every Python and platform, and
``install.sh`` installs from it (``pip install --require-hashes -r``) what holds on the
Pi. ``pip download`` cannot weigh markers for another platform, so this does, for the
wheelhouse of an image (image/lib/wheels.sh).

    python3 target_pins.py CONSTRAINTS [PYTHON_VERSION MACHINE]

Without a version and machine: this Python's and this machine's.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

PIN = re.compile(r"^([A-Za-z0-9][^\\#]*?)\s*\\?\s*$")


def target_environment(python: str | None, machine: str | None) -> dict[str, str]:
    environment = dict(default_environment())
    if python is not None and machine is not None:
        environment.update(
            python_version=python,
            python_full_version=f"{python}.0",
            platform_machine=machine,
            sys_platform="linux",
            platform_system="Linux",
            os_name="posix",
            implementation_name="cpython",
            platform_python_implementation="CPython",
        )
    return environment


def target_pins(constraints: str, environment: dict[str, str]) -> list[str]:
    pins = []
    for line in constraints.splitlines():
        match = PIN.match(line)
        if match is None:
            continue
        requirement = Requirement(match.group(1))
        if requirement.marker is None or requirement.marker.evaluate(environment):
            pins.append(f"{requirement.name}{requirement.specifier}")
    return pins


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 3):
        print(__doc__, file=sys.stderr)
        return 2
    python, machine = (argv[1], argv[2]) if len(argv) == 3 else (None, None)
    print("\n".join(target_pins(Path(argv[0]).read_text(), target_environment(python, machine))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
