"""Why GPIO cannot be used here, with the fix: what gpiozero's "Unable to load any default pin factory!" hides.

gpiozero tries lgpio (the only pin factory that works on a Pi 5), then every other one, and reports only
that none loaded; lgpio itself says "can not open gpiochip" whether the chip is missing or forbidden. The
causes are found here instead, the way lgpio meets them: the module imports or not, ``/dev/gpiochip*`` exist
or not, and may be opened read-write or not. The daemon shows the result when a pin fails to open, and
``edge doctor`` asks it for the service user.
"""

from __future__ import annotations

import grp
import importlib
import os
import pwd
import stat
from pathlib import Path

GPIO_GROUP = "gpio"  # Raspberry Pi OS's udev rule gives the chips to it (install.sh creates it elsewhere)
LGPIO_PACKAGE = "python3-lgpio"
_GROUP_RW = stat.S_IRGRP | stat.S_IWGRP
_UDEV_RULE = 'SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"'


def gpio_unavailable_reason(root: Path = Path("/"), user: str | None = None) -> str | None:
    """The first thing that keeps lgpio from opening the GPIO chips, as a sentence with its fix; None: nothing does.

    ``user``: judge the chips' permissions for that user (by owner, group and mode: ``edge doctor`` runs as
    root); None: this process tries to open them, as lgpio would.
    """
    try:
        importlib.import_module("lgpio")
    except ImportError as exc:
        return (
            f"lgpio is not installed ({exc}): sudo apt install {LGPIO_PACKAGE}; a venv must see the system's "
            "packages (made with --system-site-packages, as install.sh and make run on a Pi do)"
        )
    chips = sorted((root / "dev").glob("gpiochip*"))
    if not chips:
        return "no GPIO chip (/dev/gpiochip*): this is not a Raspberry Pi, or its GPIO driver is not loaded"
    for chip in chips:
        denied = _denied(chip, user)
        if denied:
            return denied
    return None


def _denied(chip: Path, user: str | None) -> str | None:
    """Why ``chip`` cannot be opened read-write (by ``user``, or by this process), or None."""
    if user is None:
        try:
            os.close(os.open(chip, os.O_RDWR | os.O_CLOEXEC))
        except PermissionError:
            return _permission_fix(chip, _user_name(os.geteuid()))
        except OSError as exc:
            return f"cannot open {chip}: {exc.strerror or exc}"
        return None
    return None if _may_open(chip.stat(), user) else _permission_fix(chip, user)


def _permission_fix(chip: Path, who: str) -> str:
    info = chip.stat()
    group = _group_name(info.st_gid)
    where = f"{chip} (owner {_user_name(info.st_uid)}:{group}, mode {stat.S_IMODE(info.st_mode):04o})"
    if info.st_gid != 0 and info.st_mode & _GROUP_RW == _GROUP_RW:  # a udev rule gave it to a group
        return (
            f"user {who} may not open {where}: sudo usermod -aG {group} {who}, "
            "then restart the service (a process keeps the groups it started with)"
        )
    return (
        f"user {who} may not open {where}, and no udev rule gives the GPIO chips to group {GPIO_GROUP}: "
        f"add '{_UDEV_RULE}' to /etc/udev/rules.d/60-gpio.rules, sudo udevadm trigger "
        "(Raspberry Pi OS has this rule), and put the user in that group"
    )


def _may_open(info: os.stat_result, user: str) -> bool:
    """Whether ``user`` may open a file with this owner, group and mode for reading and writing."""
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        return False
    if account.pw_uid == 0:
        return True
    rw = stat.S_IRUSR | stat.S_IWUSR
    if info.st_uid == account.pw_uid:
        return info.st_mode & rw == rw
    groups = {account.pw_gid} | {g.gr_gid for g in grp.getgrall() if user in g.gr_mem}
    if info.st_gid in groups:
        return info.st_mode & (rw >> 3) == rw >> 3
    return info.st_mode & (rw >> 6) == rw >> 6


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
