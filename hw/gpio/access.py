"""May GPIO be used here, and if not, what to do: what gpiozero's "Unable to load any default pin factory!" hides.

gpiozero tries lgpio (the only pin factory that works on a Pi 5), then every other one, and reports only
that none loaded; lgpio itself says "can not open gpiochip" whether the chip is missing or forbidden. The
causes are found here instead, the way lgpio meets them: the module imports or not, ``/dev/gpiochip*`` exist
or not, and may be opened read-write or not. The daemon asks for itself when a pin fails to open
(:func:`gpio_unavailable_reason`); ``edge doctor`` asks for the service user (:func:`lgpio_problem`,
:func:`chip_problem`) with the file and account look-ups passed in, so its tests can stub them.
"""

from __future__ import annotations

import contextlib
import grp
import importlib
import os
import pwd
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

GPIO_GROUP = "gpio"  # Raspberry Pi OS's udev rule gives the chips to it (install.sh creates it elsewhere)
LGPIO_PACKAGE = "python3-lgpio"
LGPIO_ERRORS = (ImportError, OSError)  # OSError: its C library (liblgpio) does not load
_UDEV_RULE = 'SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"'


class FileAccess(NamedTuple):
    owner: str
    group: str
    mode: int  # the permission bits


@dataclass(frozen=True)
class GpioProblem:
    """What keeps GPIO from being used, and the one-line fix ("" when there is none to give)."""

    problem: str
    fix: str = ""

    def __str__(self) -> str:
        return f"{self.problem}: {self.fix}" if self.fix else self.problem


NO_CHIP = GpioProblem("no GPIO chip (/dev/gpiochip*)", "this is not a Raspberry Pi, or its GPIO driver is not loaded")


def lgpio_location() -> str:
    """The file lgpio imports from; raises what importing it raises (one of :data:`LGPIO_ERRORS`)."""
    return str(importlib.import_module("lgpio").__file__)


def lgpio_problem(error: BaseException) -> GpioProblem:
    """What importing lgpio failing with ``error`` means for GPIO, and the fix."""
    return GpioProblem(
        f"lgpio does not import ({error})",
        f"sudo apt install {LGPIO_PACKAGE}; a venv must see the system's packages (made with "
        "--system-site-packages, as install.sh and make run on a Pi do)",
    )


def file_access(path: Path) -> FileAccess:
    """A file's owner, group (by name where the system has one) and permission bits."""
    info = path.stat()
    return FileAccess(_user_name(info.st_uid), _group_name(info.st_gid), stat.S_IMODE(info.st_mode))


def groups_of(user: str) -> set[str] | None:
    """The groups ``user`` is in (its primary one too); None: no such user."""
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        return None
    groups = {g.gr_name for g in grp.getgrall() if user in g.gr_mem}
    with contextlib.suppress(KeyError):
        groups.add(grp.getgrgid(account.pw_gid).gr_name)
    return groups


def chip_problem(
    chip: Path, user: str, groups: Iterable[str], access: Callable[[Path], FileAccess] = file_access
) -> GpioProblem | None:
    """Why ``user`` (in ``groups``) may not open ``chip`` read-write, judged by its owner, group and mode; or None."""
    found = access(chip)
    return None if _may_read_write(found, user, set(groups)) else _permission_problem(chip, found, user)


def gpio_unavailable_reason(root: Path = Path("/")) -> str | None:
    """The first thing that keeps lgpio in this process from opening the GPIO chips, with its fix; None: nothing."""
    try:
        importlib.import_module("lgpio")
    except LGPIO_ERRORS as exc:
        return str(lgpio_problem(exc))
    chips = sorted((root / "dev").glob("gpiochip*"))
    if not chips:
        return str(NO_CHIP)
    for chip in chips:
        try:
            os.close(os.open(chip, os.O_RDWR | os.O_CLOEXEC))
        except PermissionError:
            return str(_permission_problem(chip, file_access(chip), _user_name(os.geteuid())))
        except OSError as exc:
            return f"cannot open /dev/{chip.name}: {exc.strerror or exc}"
    return None


def _may_read_write(found: FileAccess, user: str, groups: set[str]) -> bool:
    if user == "root":
        return True
    if found.owner == user:
        return found.mode & 0o600 == 0o600
    if found.group in groups:
        return found.mode & 0o060 == 0o060
    return found.mode & 0o006 == 0o006


def _permission_problem(chip: Path, found: FileAccess, user: str) -> GpioProblem:
    problem = f"user {user} may not open /dev/{chip.name} (owner {found.owner}:{found.group}, mode {found.mode:04o})"
    if found.group != "root" and found.mode & 0o060 == 0o060:  # a udev rule gave it to a group
        return GpioProblem(
            problem,
            f"sudo usermod -aG {found.group} {user}, then restart the service "
            "(a process keeps the groups it started with)",
        )
    return GpioProblem(
        f"{problem}, and no udev rule gives the GPIO chips to group {GPIO_GROUP}",
        f"add '{_UDEV_RULE}' to /etc/udev/rules.d/60-gpio.rules, sudo udevadm trigger "
        "(Raspberry Pi OS has this rule), and put the user in that group",
    )


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
