import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import Config, ConfigError, documented_keys, load_config, parse_config, with_overrides


def test_defaults_match_the_documented_ones():
    config = Config()
    assert (config.camera.width, config.camera.height, config.camera.framerate) == (1280, 720, 30)
    assert config.camera.bitrate == 2_000_000 and config.camera.keyframe_interval == 2.0
    assert config.server.port == 8080
    assert config.webrtc.ice_servers == ()  # never a public STUN server by default


@pytest.mark.parametrize(
    "data, message",
    [
        ({"camera": {"widht": 640}}, "unknown key camera.widht; allowed in [camera]: backend, width"),
        ({"camera": {"width": 641}}, "camera.width must be an even number"),
        ({"camera": {"width": "wide"}}, 'camera.width must be an integer from 64 to 4096; got "wide"'),
        ({"camera": {"backend": "usb"}}, 'camera.backend must be one of "auto", "picamera2", "simulated"; got "usb"'),
        ({"camera": {"keyframe_interval": 0}}, "camera.keyframe_interval must be a number from 0.1 to 60"),
        ({"microphone": {"backend": True}}, "microphone.backend must be one of"),
        ({"cameras": {}}, "unknown section [cameras]; allowed: [server], [camera]"),
        ({"webrtc": {"ice_servers": [{"urls": "http://x"}]}}, "webrtc.ice_servers[0].urls must be a stun:"),
        (
            {"webrtc": {"ice_servers": [{"urls": "turn:x", "user": "a"}]}},
            "webrtc.ice_servers[0] has unknown key 'user'",
        ),
        ({"webrtc": {"interfaces": "wlan0"}}, "webrtc.interfaces must be a list of non-empty strings"),
        ({"server": {"port": 70000}}, "server.port must be an integer from 0 to 65535; got 70000"),
        ({"server": {"trusted_proxies": "127.0.0.1"}}, "server.trusted_proxies must be a list of addresses or"),
        ({"server": {"trusted_proxies": ["nginx"]}}, 'server.trusted_proxies: "nginx" is not an address or network'),
        ({"server": {"trusted_proxies": ["10.0.0.1/8"]}}, "10.0.0.1/8 has host bits set"),
        ({"server": {"trusted_proxies": [2130706433]}}, "server.trusted_proxies: 2130706433 is not an address"),
        ({"publish": {"url": "http://x/whip"}}, "publish must be an array of tables: write each one under [[publish]]"),
        ({"publish": [{"token": "t"}]}, "publish[0].url is required"),
        (
            {"triggers": [{"name": "door", "pin": 17, "device_class": "contact"}]},
            'triggers[0].device_class must be one of "auto", "none", "battery"',
        ),
        (
            {"mqtt": {"configuration_url": "cam.local"}},
            "mqtt.configuration_url must be empty or an http:// or https://",
        ),
        (
            {"mqtt": {"configuration_url": "https://edge:secret@cam.example.org/"}},
            "mqtt.configuration_url must be empty or an http:// or https:// URL without a password",
        ),
        ({"publish": [{"url": "http://u:p@x/whip"}]}, "publish[0].url must not hold a user name or password"),
        ({"publish": [{"url": "rtmp://x/live"}]}, "publish[0].url must be an http:// or https:// URL"),
        ({"publish": [{"url": "https://x/whip", "ice_servers": [{"urls": "x"}]}]}, "publish[0].ice_servers[0].urls"),
        (
            {"publish": [{"url": "https://x/a"}, {"url": "https://x/b"}]},
            'publish[1] and publish[0] are both called "x": give one a name (publish[1].name)',
        ),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(data, message):
    with pytest.raises(ConfigError) as error:
        parse_config(data)
    assert message in str(error.value)


def test_a_valid_file_loads(tmp_path: Path):
    path = tmp_path / "edge.toml"
    path.write_text(
        "[camera]\nwidth = 1920\nheight = 1080\nbitrate = 4000000\n"
        '[webrtc]\nice_servers = [{ urls = "stun:stun.example.org:3478" }]\ninterfaces = ["wlan0"]\n'
    )
    config = load_config(path)
    assert (config.camera.width, config.camera.height, config.camera.bitrate) == (1920, 1080, 4_000_000)
    assert config.webrtc.ice_servers == ({"urls": "stun:stun.example.org:3478"},)
    assert config.webrtc.interfaces == ("wlan0",)


def test_publish_targets_load_with_their_defaults():
    config = parse_config(
        {"publish": [{"url": "https://sfu.example.net/whip/cam", "token": "t0k3n"}, {"url": "http://10.0.0.2/whip"}]}
    )
    first, second = config.publish
    assert (first.url, first.token, first.enabled, first.ice_servers) == (
        "https://sfu.example.net/whip/cam",
        "t0k3n",
        True,
        (),
    )
    assert (first.label, second.label) == ("sfu.example.net", "10.0.0.2")


def test_invalid_toml_and_missing_file_are_reported(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[camera\nwidth=1")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.toml")


def test_overrides_are_validated_too():
    assert with_overrides(Config(), "server", port=9000).server.port == 9000
    with pytest.raises(ConfigError, match=r"server\.port"):
        with_overrides(Config(), "server", port=-1)


def test_every_key_is_documented_in_the_configuration_reference():
    reference = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text()
    for section, key, _default, doc in documented_keys():
        assert doc
        assert f"`{key}`" in reference, f"[{section}] {key} is not in docs/configuration.md"


def test_cli_stops_on_a_config_error_with_the_key_named(tmp_path: Path):
    path = tmp_path / "edge.toml"
    path.write_text("[camera]\nframerate = 500\n")
    edge = Path(sys.executable).with_name("edge")
    result = subprocess.run([str(edge), "run", "--config", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "configuration error: camera.framerate must be an integer from 1 to 120; got 500" in result.stderr
