"""edge.config_file (``edge config``): the config template, one value, the boot-partition merge."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from edge import config_file
from edge.cli import main
from edge.config import Config, documented_keys, parse_config


def switched_on(text: str) -> str:
    return "\n".join(line[1:] if re.match(r"#[\[A-Za-z]", line) else line for line in text.splitlines())


@pytest.fixture
def template() -> str:
    return config_file.template()


def _example(template: str, array: str) -> dict:
    lines = template.splitlines()
    start = lines.index(f"#   [[{array}]]")
    end = next((n for n in range(start + 1, len(lines)) if not lines[n].startswith("#   ")), len(lines))
    return tomllib.loads("\n".join(line[4:].split("#")[0] for line in lines[start:end]))


def test_template_shows_a_trigger_example(template: str) -> None:
    assert config_file.trigger_keys(), "the daemon has [[triggers]]: the template must show them"
    assert parse_config(_example(template, "triggers")).triggers[0].pin == 17


def test_template_shows_a_publish_example(template: str) -> None:
    (target,) = parse_config(_example(template, "publish")).publish
    assert target.url == "https://media.example.net/whip/porch" and target.enabled


def test_template_is_all_switched_off(template: str) -> None:
    assert tomllib.loads(template) == {}


def test_template_lists_every_key_with_its_default(template: str) -> None:
    data = tomllib.loads(switched_on(template))
    for section, key, default, _doc in documented_keys():
        table = data
        for name in section.split("."):  # [camera.low] is data["camera"]["low"]
            table = table[name]
        value = table[key]
        assert value == (list(default) if isinstance(default, tuple) else default), (section, key)
    assert parse_config(data) == Config()


@pytest.mark.parametrize(
    "value, text",
    [
        (True, "true"),
        (8080, "8080"),
        (2.5, "2.5"),
        ('a "b"\\', '"a \\"b\\"\\\\"'),
        ((), "[]"),
        (["wlan0", "eth0"], '["wlan0", "eth0"]'),
        ({"urls": "stun:x:3478"}, '{ urls = "stun:x:3478" }'),
    ],
)
def test_toml_values_round_trip(value: object, text: str) -> None:
    assert config_file.toml_value(value) == text
    parsed = tomllib.loads(f"v = {text}")["v"]
    assert parsed == (list(value) if isinstance(value, tuple) else value)


def test_merge_switches_on_section_and_key(template: str) -> None:
    merged = config_file.merge_text(template, {"camera": {"width": 640}, "server": {"port": 9000}})
    assert tomllib.loads(merged) == {"camera": {"width": 640}, "server": {"port": 9000}}
    assert "\n[camera]\n" in merged and "\nwidth = 640\n" in merged
    assert "#width = 1280" not in merged  # replaced in place, not duplicated
    assert merged.splitlines().count("[camera]") == 1


def test_merge_replaces_an_active_key_and_keeps_comments() -> None:
    text = "# mine\n[camera]\n# wide\nwidth = 1920\nheight = 1080\n"
    merged = config_file.merge_text(text, {"camera": {"width": 640}})
    assert merged == "# mine\n[camera]\n# wide\nwidth = 640\nheight = 1080\n"


def test_merge_adds_missing_keys_and_sections() -> None:
    text = "[camera]\nwidth = 1920\n\n[server]\nport = 8080\n"
    merged = config_file.merge_text(text, {"camera": {"framerate": 15}, "webrtc": {"interfaces": ["wlan0"]}})
    assert tomllib.loads(merged) == {
        "camera": {"width": 1920, "framerate": 15},
        "server": {"port": 8080},
        "webrtc": {"interfaces": ["wlan0"]},
    }
    assert merged.index("framerate = 15") < merged.index("[server]")


def test_plan_takes_hostname_out_and_validates(template: str) -> None:
    new, hostname = config_file.plan_boot_config('[system]\nhostname = "cam-1"\n[camera]\nheight = 480\n', template)
    assert hostname == "cam-1"
    assert tomllib.loads(new) == {"camera": {"height": 480}}


@pytest.mark.parametrize(
    "boot, message",
    [
        ("[camera]\nwidht = 640\n", "unknown key camera.widht"),
        ("[camera]\nwidth = 641\n", "camera.width must be an even number"),
        ('[system]\nhostname = "-bad-"\n', "system.hostname must be"),
        ('[system]\nuser = "pi"\n', "unknown key system.user"),
        ("port = 8080\n", "port must be a [section] table"),
        ('[[triggers]]\nname = "door"\npin = 17\n', "[[triggers]] cannot be set from the boot partition"),
        ("[camera\n", "not valid TOML"),
    ],
)
def test_plan_rejects_mistakes(template: str, boot: str, message: str) -> None:
    with pytest.raises(config_file.BootConfigError, match=re.escape(message)):
        config_file.plan_boot_config(boot, template)


def test_apply_boot_merges_then_deletes(tmp_path: Path, template: str) -> None:
    config = tmp_path / "etc/edge/edge.toml"
    config.parent.mkdir(parents=True)
    config.write_text(template)
    config.chmod(0o640)
    boot = tmp_path / "boot/edge.toml"
    boot.parent.mkdir()
    boot.write_text('[system]\nhostname = "garden"\n\n[server]\nport = 8081\n')
    (tmp_path / "etc/hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n")
    (tmp_path / "etc/hostname").write_text("raspberrypi\n")
    assert config_file.apply_boot(boot, config, tmp_path / "etc", live=False) == 0
    assert not boot.exists()
    assert tomllib.loads(config.read_text()) == {"server": {"port": 8081}}
    assert config.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in config.parent.iterdir()] == ["edge.toml"]  # replaced, no temporary file left
    assert (tmp_path / "etc/hostname").read_text() == "garden\n"
    assert (tmp_path / "etc/hosts").read_text() == "127.0.0.1\tlocalhost\n127.0.1.1\tgarden\n"


def test_apply_boot_sets_an_invalid_file_aside(tmp_path: Path, template: str) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(template)
    boot = tmp_path / "boot.toml"
    boot.write_text('[camera]\nbackend = "usb"\n')
    assert config_file.apply_boot(boot, config, tmp_path, live=False) == 1
    assert config.read_text() == template
    assert not boot.exists() and (tmp_path / "boot.toml.invalid").exists()


def test_apply_boot_without_a_file_is_a_no_op(tmp_path: Path) -> None:
    assert config_file.apply_boot(tmp_path / "missing.toml", tmp_path / "edge.toml", tmp_path, live=False) == 0
    assert not (tmp_path / "edge.toml").exists()


def test_get(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "edge.toml"
    config.write_text("[server]\nport = 9090\n")
    assert main(["config", "get", "server", "port", "--config", str(config)]) == 0
    assert capsys.readouterr().out.strip() == "9090"
    assert main(["config", "get", "server", "host", "--config", str(config), "--default", "x"]) == 0
    assert capsys.readouterr().out.strip() == "x"


def test_template_command_prints_the_template(capsys: pytest.CaptureFixture[str], template: str) -> None:
    assert main(["config", "template"]) == 0
    assert capsys.readouterr().out == template


def test_apply_boot_command(tmp_path: Path) -> None:
    config = tmp_path / "etc/edge/edge.toml"
    boot = tmp_path / "boot/edge.toml"
    boot.parent.mkdir()
    boot.write_text("[camera]\nframerate = 15\n")
    args = ["config", "apply-boot", "--boot", str(boot), "--config", str(config), "--etc", str(tmp_path / "etc")]
    assert main(args) == 0
    assert tomllib.loads(config.read_text()) == {"camera": {"framerate": 15}}
    assert config.stat().st_mode & 0o777 == 0o640  # a new file: the service's group may read it, no one else
    assert main(args) == 0  # the boot file is gone: nothing to do


def test_avahi_announces_the_page_and_rtsp_when_it_is_on(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "edge.toml"
    config.write_text("[server]\nport = 8090\n")
    assert main(["config", "avahi", "--config", str(config)]) == 0
    plain = capsys.readouterr().out
    assert "<type>_http._tcp</type>\n    <port>8090</port>\n    <txt-record>path=/</txt-record>" in plain
    assert "_rtsp._tcp" not in plain and "%h" in plain  # Avahi puts the host name in

    config.write_text("[server]\nhttps = true\n[rtsp]\nenabled = true\nport = 8555\n")
    assert main(["config", "avahi", "--config", str(config)]) == 0
    both = capsys.readouterr().out
    assert "<type>_https._tcp</type>\n    <port>8080</port>" in both
    assert "<type>_rtsp._tcp</type>\n    <port>8555</port>\n    <txt-record>path=/camera</txt-record>" in both

    config.write_text("[server]\nport = -1\n")
    assert main(["config", "avahi", "--config", str(config)]) == 2
    assert "server.port" in capsys.readouterr().err
