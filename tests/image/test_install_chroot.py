"""image/install.sh in a Debian Bookworm chroot (host architecture).

The Raspberry-Pi-only packages (python3-picamera2, python3-lgpio) are stubbed with
dummy .debs served from a local apt repository, so install.sh's apt path runs for
real; every other apt dependency is preinstalled in the cached chroot tarball
(debootstrap runs once per cache directory, see image/lib/chroot.sh). The steps run
in order on one chroot: refusals, install, checks, boot-partition settings, an
upgrade that keeps the edited config, the daemon starting as the service user,
systemd-analyze on the installed unit, and --uninstall.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from packaging.utils import canonicalize_name

from testbed.pi_stubs import PI_ONLY, STUB_VERSION, build_stub_repo
from tests.image.conftest import IMAGE, ROOT, bash_lib, require_root, require_tool
from tests.image.constraints import read_pins
from tests.test_doc_links import relative_links

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

SUITE = "bookworm"
STUBBED = PI_ONLY
# What install.sh adds when [rtsp] is turned on (Debian's GStreamer; stand-ins here too).
RTSP_STUBS = (
    "python3-gi",
    "gir1.2-gst-rtsp-server-1.0",
    "gstreamer1.0-plugins-base",
    "gstreamer1.0-plugins-good",
    "gstreamer1.0-plugins-bad",
)
# The chroot starts with an old picamera2 (no force_key_frame); the archive has a newer one.
OLD_PICAMERA2, NEW_PICAMERA2 = "0.3.30-1", "0.3.36-1"
STUB_VERSIONS = {"python3-picamera2": (OLD_PICAMERA2, NEW_PICAMERA2)}
# What the real system has beside install.sh's packages: systemd (systemctl enable).
BASE_EXTRA = ("systemd", "procps")
# Every installed distribution the venv's Python sees, in import order: [name, version, where].
LIST_DISTRIBUTIONS = (
    "import importlib.metadata as m, json\n"
    "print(json.dumps([[d.metadata['Name'], d.version, str(d.locate_file(''))] for d in m.distributions()]))"
)


def run(args: list[str], *, check: bool = True, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run(args, text=True, capture_output=True, timeout=timeout, **kw)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed ({result.returncode})\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


def apt_packages() -> list[str]:
    out = run(["bash", str(IMAGE / "install.sh"), "--print-apt-packages"]).stdout.split()
    assert set(STUBBED) <= set(out)
    return out


class Chroot:
    """An unpacked chroot plus helpers to run things in it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __truediv__(self, rel: str) -> Path:
        return self.path / rel.lstrip("/")

    def run(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
        quoted = " ".join(_sh_quote(a) for a in args)
        return bash_lib(f'edge_chroot_run "{self.path}" {quoted}', check=check, timeout=timeout)

    def install(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(
            "/bin/bash",
            "/root/edge/image/install.sh",
            "--any-arch",
            "--wheel",
            "/root/edge/dist",
            "--wheelhouse",
            "/root/edge/wheelhouse",
            *extra,
            check=check,
        )

    def passwd(self, name: str) -> list[str] | None:
        for line in (self / "etc/passwd").read_text().splitlines():
            fields = line.split(":")
            if fields[0] == name:
                return fields
        return None

    def group_members(self, group: str) -> list[str] | None:
        for line in (self / "etc/group").read_text().splitlines():
            fields = line.split(":")
            if fields[0] == group:
                return [m for m in fields[3].split(",") if m]
        return None

    def gid(self, group: str) -> int:
        for line in (self / "etc/group").read_text().splitlines():
            fields = line.split(":")
            if fields[0] == group:
                return int(fields[2])
        raise KeyError(group)


def _sh_quote(s: str) -> str:
    return "'" + s.replace("'", "'\"'\"'") + "'"


@pytest.fixture(scope="module")
def chroot() -> Iterator[Chroot]:
    require_root()
    require_tool(
        "debootstrap",
        "zstd",
        "unshare",
        "dpkg-deb",
        "dpkg-scanpackages",
        package="debootstrap zstd util-linux dpkg-dev",
    )
    started = time.monotonic()
    packages = sorted({*apt_packages(), *BASE_EXTRA} - set(STUBBED))
    tarball = bash_lib(f"edge_chroot_tarball amd64 {SUITE} {' '.join(packages)}", timeout=1500).stdout.strip()
    work = Path(tempfile.mkdtemp(prefix="edge-install-test-"))
    root = work / "root"
    try:
        bash_lib(f'edge_chroot_extract "{tarball}" "{root}"')
        # Our wheel and a wheelhouse of its dependencies, built on the host.
        cache = Path(bash_lib("edge_cache_dir").stdout.strip())
        wheelhouse = cache / f"wheelhouse-{SUITE}-{os.uname().machine}"
        wheel = bash_lib(
            f'w="$(edge_build_wheel "{work / "dist"}")"; edge_wheelhouse "{wheelhouse}" host; echo "$w"'
        ).stdout.strip()
        edge_dir = root / "root/edge"
        shutil.copytree(IMAGE, edge_dir / "image", ignore=shutil.ignore_patterns("__pycache__"))
        # The owner's README and its pages beside image/, as in a clone.
        for page in ("README.md", "CONTRIBUTING.md"):
            shutil.copy(ROOT / page, edge_dir)
        shutil.copytree(ROOT / "docs", edge_dir / "docs")
        (edge_dir / "dist").mkdir()
        shutil.copy(wheel, edge_dir / "dist")
        shutil.copytree(wheelhouse, edge_dir / "wheelhouse")
        # apt inside sees only the local repository of stubs.
        build_stub_repo(work / "stubs", (*STUBBED, *RTSP_STUBS), STUB_VERSIONS)
        shutil.copytree(work / "stubs", root / "var/local/edge-stubs")
        for f in (root / "etc/apt/sources.list.d").glob("*"):
            f.unlink()
        (root / "etc/apt/sources.list").write_text("deb [trusted=yes] file:/var/local/edge-stubs ./\n")
        bash_lib(f'edge_chroot_run "{root}" dpkg -i /var/local/edge-stubs/python3-picamera2_{OLD_PICAMERA2}_all.deb')
        (root / "etc/hostname").write_text("debian-test\n")
        (root / "etc/avahi/services").mkdir(parents=True)  # as avahi-daemon leaves it on a Pi
        (root / "etc/hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\tdebian-test\n")
        print(f"chroot ready in {time.monotonic() - started:.0f} s")
        yield Chroot(root)
    finally:
        bash_lib(f'edge_rm_chroot "{work}"')


class TestInstall:
    """One chroot, steps in order (pytest keeps the definition order)."""

    state: ClassVar[dict[str, object]] = {}

    def test_refuses_other_architectures_without_override(self, chroot: Chroot) -> None:
        result = chroot.run("/bin/bash", "/root/edge/image/install.sh", check=False)
        assert result.returncode != 0
        assert "unsupported architecture: amd64" in result.stderr
        assert not (chroot / "opt/edge").exists()

    def test_refuses_an_unsupported_os(self, chroot: Chroot) -> None:
        os_release = chroot / "etc/os-release"
        saved = os_release.read_bytes()
        os_release.unlink()  # it is a symlink to ../usr/lib/os-release on Debian
        os_release.write_text('ID=ubuntu\nVERSION_CODENAME=noble\nPRETTY_NAME="Ubuntu 24.04 LTS"\n')
        try:
            result = chroot.install(check=False)
        finally:
            os_release.unlink()
            os_release.write_bytes(saved)
        assert result.returncode != 0
        assert "unsupported OS: Ubuntu 24.04 LTS" in result.stderr

    def test_refuses_an_old_python(self, chroot: Chroot) -> None:
        fake = chroot / "usr/local/bin/python3"
        fake.write_text("#!/bin/sh\necho 3.9\n")
        fake.chmod(0o755)
        try:
            result = chroot.install(check=False)
        finally:
            fake.unlink()
        assert result.returncode != 0
        assert "unsupported Python: python3 is 3.9, 3.11 or newer is needed" in result.stderr

    def test_first_install(self, chroot: Chroot) -> None:
        started = time.monotonic()
        result = chroot.install()
        self.state["install_seconds"] = time.monotonic() - started
        self.state["first_venv"] = os.readlink(chroot / "opt/edge/venv")
        out = result.stdout
        assert "installing apt packages: python3-lgpio libcamera-ipa rpicam-apps-lite" in out
        assert f"python3-picamera2 {OLD_PICAMERA2} is older than 0.3.32: upgrading it" in out
        assert "edge doctor found" not in result.stderr  # not a Pi: nothing blocks
        avahi = (chroot / "etc/avahi/services/edge.service").read_text()
        assert "<type>_http._tcp</type>" in avahi and "<port>8080</port>" in avahi and "path=/" in avahi
        assert re.search(r"http://debian-test\.local:8080/", out), out
        assert "edge.service is enabled and starts at boot" in out
        # No access token is made at install time: an image built this way would give
        # every camera the same one. The daemon makes it at its first start.
        assert not (chroot / "var/lib/edge/token").exists()
        assert "show it with: sudo edge-token" in out
        wrapper = chroot / "usr/local/sbin/edge-token"
        assert os.access(wrapper, os.X_OK)

    def test_the_readme_and_the_pages_it_links_are_installed(self, chroot: Chroot) -> None:
        """The units' Documentation= is the owner's README; its links (docs/...) work on the Pi too."""
        readme = chroot / "opt/edge/README.md"
        assert readme.read_text() == (ROOT / "README.md").read_text()
        assert (chroot / "opt/edge/docs/install.md").read_text() == (ROOT / "docs/install.md").read_text()
        missing = [link for link in relative_links(readme) if not (readme.parent / link.partition("#")[0]).exists()]
        assert not missing, f"linked from the installed README but not installed: {missing}"
        for unit in ("edge.service", "edge-boot-config.service"):
            assert "Documentation=file:///opt/edge/README.md" in (IMAGE / "systemd" / unit).read_text()

    def test_stubbed_packages_came_through_apt(self, chroot: Chroot) -> None:
        status = chroot.run("dpkg-query", "-W", "-f=${Package} ${Version} ${db:Status-Status}\\n", *STUBBED).stdout
        for package in STUBBED:
            version = NEW_PICAMERA2 if package == "python3-picamera2" else STUB_VERSION
            assert f"{package} {version} installed" in status

    def test_service_user_and_groups(self, chroot: Chroot) -> None:
        entry = chroot.passwd("edge")
        assert entry is not None, "no edge user"
        _, _, uid, gid, _, home, shell = entry
        assert int(uid) < 1000, "not a system user"
        assert home == "/var/lib/edge"
        assert shell == "/usr/sbin/nologin"
        assert int(gid) == chroot.gid("edge")
        for group in ("video", "gpio", "audio", "render"):
            assert "edge" in (chroot.group_members(group) or []), f"edge not in {group}"

    def test_venv_with_system_site_packages(self, chroot: Chroot) -> None:
        link = chroot / "opt/edge/venv"
        assert link.is_symlink()
        target = os.readlink(link)
        assert re.fullmatch(r"venvs/[\w-]+", target), target
        cfg = (link / "pyvenv.cfg").read_text()
        assert "include-system-site-packages = true" in cfg
        assert os.access(link / "bin/edge", os.X_OK)
        # Debian's/Raspberry Pi OS's packages are visible (the stubs here), ours too.
        out = chroot.run(
            "/opt/edge/venv/bin/python",
            "-c",
            "import picamera2, lgpio, edge.systemd, aiortc, av; print(picamera2.EDGE_TEST_STUB, lgpio.EDGE_TEST_STUB)",
        ).stdout
        assert out.strip() == "True True"
        assert [p.name for p in (chroot / "opt/edge/venvs").iterdir()] == [Path(target).name]

    def test_dependencies_are_the_pinned_ones_and_debians_numpy_stays(self, chroot: Chroot) -> None:
        """What the service imports: each package at its version in image/constraints.txt; numpy Debian's."""
        listed = json.loads(chroot.run("/opt/edge/venv/bin/python", "-c", LIST_DISTRIBUTIONS).stdout)
        found: dict[str, tuple[str, str]] = {}
        for name, version, place in listed:  # in import order: the first of a name is the one imported
            if name:
                found.setdefault(canonicalize_name(name), (version, place))
        python = chroot.run("/usr/bin/python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])").stdout
        pins = [pin for pin in read_pins() if pin.applies(python.strip())]
        assert {pin.name: found.get(pin.name, ("missing",))[0] for pin in pins} == {p.name: p.version for p in pins}
        assert "numpy" not in {pin.name for pin in pins}
        assert found["numpy"][1] == "/usr/lib/python3/dist-packages", found["numpy"]  # python3-numpy

    def test_config_file(self, chroot: Chroot) -> None:
        conf = chroot / "etc/edge/edge.toml"
        st = conf.stat()
        assert (st.st_uid, st.st_gid) == (0, chroot.gid("edge"))
        assert st.st_mode & 0o777 == 0o640
        directory = (chroot / "etc/edge").stat()
        assert directory.st_mode & 0o777 == 0o750 and directory.st_gid == chroot.gid("edge")
        text = conf.read_text()
        assert tomllib.loads(text) == {}, "every setting must start switched off (defaults)"
        for key in ("#[server]", "#port = 8080", "#[camera]", '#backend = "auto"', "#[microphone]"):
            assert key in text
        assert (chroot / "etc/edge/edge.toml.example").read_text() == text
        # Switching every setting on gives exactly the daemon's defaults.
        switched_on = "\n".join(line[1:] if re.match(r"#[\[A-Za-z]", line) else line for line in text.splitlines())
        chroot_check = chroot / "tmp/all-on.toml"
        chroot_check.write_text(switched_on)
        out = chroot.run(
            "/opt/edge/venv/bin/python",
            "-c",
            "from pathlib import Path; from edge.config import load_config, Config;"
            "print(load_config(Path('/tmp/all-on.toml')) == Config())",
        ).stdout
        assert out.strip() == "True"

    def test_state_directories(self, chroot: Chroot) -> None:
        uid = int(chroot.passwd("edge")[2])
        for rel in ("var/lib/edge", "var/lib/edge/recordings"):
            st = (chroot / rel).stat()
            assert (st.st_uid, st.st_gid) == (uid, chroot.gid("edge")), rel
            assert st.st_mode & 0o777 == 0o750, rel

    def test_units_installed_and_enabled(self, chroot: Chroot) -> None:
        for unit in ("edge.service", "edge-boot-config.service"):
            installed = chroot / "usr/local/lib/systemd/system" / unit
            assert installed.read_text() == (IMAGE / "systemd" / unit).read_text()
            assert (chroot / "etc/systemd/system/multi-user.target.wants" / unit).is_symlink()
            state = chroot.run("systemctl", "is-enabled", unit, check=False).stdout.strip()
            assert state == "enabled", f"{unit}: {state}"

    def test_systemd_analyze_on_the_installed_unit(self, chroot: Chroot) -> None:
        require_tool("systemd-analyze", package="systemd")
        result = run(
            ["systemd-analyze", "verify", f"--root={chroot.path}", "edge.service", "edge-boot-config.service"],
            check=False,
        )
        assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr
        security = run(
            ["systemd-analyze", "security", "--offline=true", f"--root={chroot.path}", "--no-pager", "edge.service"],
            check=False,
        )
        match = re.search(r"Overall exposure level for edge\.service: (\d+(?:\.\d+)?)", security.stdout)
        assert match and float(match.group(1)) <= 3.0, security.stdout + security.stderr

    def test_daemon_starts_as_the_service_user(self, chroot: Chroot) -> None:
        """ExecStart= as the unit runs it (user edge, STATE_DIRECTORY), in an empty network namespace."""
        port = 18080
        log_file = chroot / "tmp/edge-daemon.log"
        # setsid: the daemon gets a process group of its own, stopped as a whole below
        # (and by the EXIT trap if anything fails on the way).
        script = (
            "ip link set lo up\n"
            f'setsid bash -c \'source "$1"; shift; edge_chroot_run "$@"\' edge "{IMAGE}/lib/chroot.sh" "{chroot.path}" '
            "setpriv --reuid=edge --regid=edge --init-groups "
            "env STATE_DIRECTORY=/var/lib/edge PYTHONUNBUFFERED=1 "
            "/opt/edge/venv/bin/edge run --config /etc/edge/edge.toml --simulate "
            f'--host 127.0.0.1 --port {port} >"{log_file}" 2>&1 &\n'
            "pid=$!\n"
            "stop() { kill -TERM -- -$pid 2>/dev/null; "
            "for _ in $(seq 1 50); do kill -0 -- -$pid 2>/dev/null || return 0; sleep 0.2; done; "
            "kill -KILL -- -$pid 2>/dev/null; }\n"
            "trap stop EXIT\n"
            f"for _ in $(seq 1 120); do (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && break; sleep 0.5; done\n"
            f"exec 3<>/dev/tcp/127.0.0.1/{port}\n"
            "printf 'GET / HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3\n"
            "head -n 1 <&3\n"
            "echo ids:; ps -o uid=,gid=,supgid= -g $pid\n"
        )
        result = run(["unshare", "--net", "--", "bash", "-c", script], check=False, timeout=180)
        log = log_file.read_text() if log_file.exists() else ""
        # Any answer from the daemon (the page, or 401 once a secret is required).
        assert re.search(r"HTTP/1\.[01] [234]\d\d", result.stdout), (
            result.stdout + result.stderr + "\n--- daemon log\n" + log
        )
        token_file = chroot / "var/lib/edge/token"
        assert token_file.exists(), "the daemon makes its access token at the first start"
        assert token_file.stat().st_uid == int(chroot.passwd("edge")[2])
        assert token_file.stat().st_mode & 0o077 == 0, "the token file must be private"
        url = chroot.run("/usr/local/sbin/edge-token").stdout.strip()
        assert re.fullmatch(r"http://\S+\.local:8080/\?token=\S+", url), url
        assert url.endswith(token_file.read_text().strip())
        # The daemon ran as edge with the device groups (host's ps: numeric ids).
        uid, gid = int(chroot.passwd("edge")[2]), chroot.gid("edge")
        device_gids = {chroot.gid(g) for g in ("video", "gpio", "audio", "render")}
        ids = result.stdout.split("ids:", 1)[1].split("\n")
        rows = [line.split() for line in ids if line.split() and int(line.split()[0]) == uid]
        assert rows, result.stdout
        assert int(rows[0][1]) == gid
        assert device_gids <= {int(g) for g in rows[0][2].split(",")}, result.stdout

    def test_boot_partition_settings_are_merged_once(self, chroot: Chroot) -> None:
        boot = chroot / "boot/firmware"
        boot.mkdir(parents=True, exist_ok=True)
        (boot / "edge.toml").write_text(
            '[system]\nhostname = "garden-cam"\n\n[server]\nport = 8081\n\n[camera]\nwidth = 640\nheight = 480\n'
        )
        host_name_before = socket.gethostname()
        chroot.install()
        assert not (boot / "edge.toml").exists(), "the boot file must be removed once applied"
        conf = chroot / "etc/edge/edge.toml"
        data = tomllib.loads(conf.read_text())
        assert data == {"server": {"port": 8081}, "camera": {"width": 640, "height": 480}}
        st = conf.stat()  # replaced by a new file with the old one's owner and mode
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, chroot.gid("edge"), 0o640)
        assert (chroot / "etc/hostname").read_text() == "garden-cam\n"
        assert "127.0.1.1\tgarden-cam" in (chroot / "etc/hosts").read_text()
        assert socket.gethostname() == host_name_before, "the host's own name must not change"
        # An invalid file is set aside, nothing changes (the boot unit's own command).
        (boot / "edge.toml").write_text("[camera]\nwidht = 640\n")
        before = (chroot / "etc/edge/edge.toml").read_text()
        unit = (chroot / "usr/local/lib/systemd/system/edge-boot-config.service").read_text()
        command = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1).replace(" --live", "").split()
        assert command[:3] == ["/opt/edge/venv/bin/edge", "config", "apply-boot"]  # the installed command
        result = chroot.run(*command, check=False)
        assert result.returncode == 1
        assert "unknown key camera.widht" in result.stderr
        assert (boot / "edge.toml.invalid").exists()
        assert (chroot / "etc/edge/edge.toml").read_text() == before

    def test_upgrade_keeps_the_edited_config(self, chroot: Chroot) -> None:
        conf = chroot / "etc/edge/edge.toml"
        edited = (
            conf.read_text()
            .replace("#[microphone]", "[microphone]")
            .replace('#device = "auto"', '# my mic\ndevice = "plughw:1,0"')
        ) + "\n[rtsp]\nenabled = true\n"
        conf.write_text(edited)
        uid_before = chroot.passwd("edge")[2]
        venv_before = os.readlink(chroot / "opt/edge/venv")
        marker = chroot / "var/lib/edge/recordings/keep-me.mp4"
        marker.write_bytes(b"\0" * 16)
        old_tool = chroot / "opt/edge/libexec/edge-config-tool"  # where versions before `edge config` had it
        old_tool.parent.mkdir()
        old_tool.write_text("#!/usr/bin/python3\n")
        started = time.monotonic()
        result = chroot.install()
        self.state["upgrade_seconds"] = time.monotonic() - started
        assert "keeping /etc/edge/edge.toml" in result.stdout
        assert "[rtsp] is on" in result.stdout and "gir1.2-gst-rtsp-server-1.0" in result.stdout
        status = chroot.run("dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\\n", *RTSP_STUBS).stdout
        assert sorted(status.splitlines()) == sorted(f"{p} installed" for p in RTSP_STUBS), status
        assert "_rtsp._tcp" in (chroot / "etc/avahi/services/edge.service").read_text()
        assert conf.read_text() == edited
        assert tomllib.loads(conf.read_text())["microphone"] == {"device": "plughw:1,0"}
        assert chroot.passwd("edge")[2] == uid_before
        venv_after = os.readlink(chroot / "opt/edge/venv")
        assert venv_after != venv_before, "an upgrade builds a fresh venv"
        assert [p.name for p in (chroot / "opt/edge/venvs").iterdir()] == [Path(venv_after).name]
        assert marker.exists()
        assert not old_tool.parent.exists()

    def test_a_dependency_that_does_not_match_its_hash_is_refused(self, chroot: Chroot) -> None:
        venv_before = os.readlink(chroot / "opt/edge/venv")
        (wheel,) = (chroot / "root/edge/wheelhouse").glob("ifaddr-*.whl")
        original = wheel.read_bytes()
        wheel.write_bytes(original + b"\0")  # one byte more: another file than the one pinned
        try:
            result = chroot.install(check=False)
        finally:
            wheel.write_bytes(original)
        assert result.returncode != 0
        assert "DO NOT MATCH THE HASHES" in result.stdout + result.stderr
        assert "pip could not install the dependencies pinned in" in result.stderr
        assert os.readlink(chroot / "opt/edge/venv") == venv_before, "the installed version stays"
        assert [p.name for p in (chroot / "opt/edge/venvs").iterdir()] == [Path(venv_before).name]

    def test_uninstall_keeps_config_and_recordings(self, chroot: Chroot) -> None:
        result = chroot.run("/bin/bash", "/root/edge/image/install.sh", "--uninstall")
        assert "Kept: /etc/edge" in result.stdout
        assert not (chroot / "etc/avahi/services/edge.service").exists()
        assert not (chroot / "opt/edge").exists()
        assert not (chroot / "usr/local/sbin/edge-token").exists()
        for unit in ("edge.service", "edge-boot-config.service"):
            assert not (chroot / "usr/local/lib/systemd/system" / unit).exists()
            assert not (chroot / "etc/systemd/system/multi-user.target.wants" / unit).exists()
        assert chroot.passwd("edge") is None
        assert (chroot / "etc/edge/edge.toml").exists()
        assert (chroot / "var/lib/edge/recordings/keep-me.mp4").exists()
        assert sorted(p.name for p in (chroot / "var/lib/edge").iterdir()) == ["recordings"]

    def test_reinstall_after_uninstall(self, chroot: Chroot) -> None:
        chroot.install()
        uid = int(chroot.passwd("edge")[2])
        assert (chroot / "var/lib/edge/recordings/keep-me.mp4").stat().st_uid == uid
        assert "plughw:1,0" in (chroot / "etc/edge/edge.toml").read_text()
        print(
            f"install {self.state.get('install_seconds', 0):.0f} s, "
            f"upgrade {self.state.get('upgrade_seconds', 0):.0f} s"
        )
