"""Home Assistant over MQTT: the real daemon (simulated hardware) against a real mosquitto."""

from __future__ import annotations

import json
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.clips import CAMERA, clips, drive, wait_for
from testbed.mosquitto import Mosquitto, make_broker, watch
from testbed.processes import stop_process

HOST = socket.gethostname()
NODE = re.sub(r"[^A-Za-z0-9_-]", "_", HOST)
PREFIX = f"edge/{HOST}"
DISCOVERY = "homeassistant"
TRIGGER = '[[triggers]]\nname = "doorbell"\npin = 17\n'
ENTITIES = 5  # the trigger, recording, viewers, the record button, the snapshot


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = make_broker(tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.stop()


def mqtt_config(broker: Mosquitto, extra: str = "") -> str:
    return f'{CAMERA}{TRIGGER}[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\n{extra}'


def configs_by_component(messages: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for topic, message in messages.items():
        component = topic.split("/")[1]
        found.setdefault(component, []).append(json.loads(message.payload))
    return found


def check_discovery(messages: dict) -> dict[str, list[dict]]:
    """Every config retained and with what Home Assistant requires of its platform."""
    assert all(m.retain for m in messages.values()), "discovery configs must be retained"
    needs = {
        "binary_sensor": ["state_topic"],
        "sensor": ["state_topic"],
        "button": ["command_topic"],
        "image": ["image_topic"],
    }
    found = configs_by_component(messages)
    assert {c: len(v) for c, v in found.items()} == {"binary_sensor": 2, "sensor": 1, "button": 1, "image": 1}
    unique_ids = set()
    for component, configs in found.items():
        for config in configs:
            for required in ["unique_id", "name", "device", *needs[component]]:
                assert config.get(required), f"{component} config lacks {required}: {config}"
            assert config["availability_topic"] == f"{PREFIX}/availability"
            assert config["device"]["identifiers"] == [f"edge_{NODE}"]
            assert config["device"]["model"] == "edge camera daemon"
            assert config["device"]["name"] == HOST and config["device"]["sw_version"]
            unique_ids.add(config["unique_id"])
    assert len(unique_ids) == ENTITIES
    return found


def test_discovery_is_retained_and_the_last_will_says_offline(broker, daemon_factory):
    daemon = daemon_factory(mqtt_config(broker))
    watcher = watch(broker)
    watcher.wait(f"{PREFIX}/availability", "online")
    configs = watcher.wait_topics(f"{DISCOVERY}/", ENTITIES)
    watcher.wait(f"{PREFIX}/viewers", "0")  # the states follow the configs: published before a later client comes
    watcher.close()
    late = watch(broker)  # a client that comes later gets all of it retained
    found = check_discovery(late.wait_topics(f"{DISCOVERY}/", ENTITIES))
    assert set(configs) == set(late.wait_topics(f"{DISCOVERY}/", ENTITIES))
    assert {c["name"] for c in found["binary_sensor"]} == {"Doorbell", "Recording"}, "names in one style"
    doorbell = next(c for c in found["binary_sensor"] if c["name"] == "Doorbell")
    assert "device_class" not in doorbell, "a doorbell button shows On/Off"
    assert {c["device"]["configuration_url"] for v in found.values() for c in v} == {f"{daemon.url}/"}, "links the page"
    assert late.wait(f"{PREFIX}/availability", "online").retain
    assert late.wait(f"{PREFIX}/viewers", "0").retain
    assert wait_for(daemon.health, lambda h: h["mqtt"]["state"] == "connected", 20, "MQTT connected")
    daemon.proc.kill()  # SIGKILL: no goodbye, the broker sends the will
    daemon.proc.wait()
    late.wait(f"{PREFIX}/availability", "offline")
    late.close()


def test_a_gpio_press_turns_its_binary_sensor_on_then_off(broker, daemon_factory):
    daemon = daemon_factory(mqtt_config(broker))
    watcher = watch(broker)
    trigger = json.loads(watcher.wait(f"{DISCOVERY}/binary_sensor/{NODE}/trigger_doorbell/config").payload)
    image = json.loads(watcher.wait(f"{DISCOVERY}/image/{NODE}/snapshot/config").payload)
    watcher.wait(trigger["state_topic"], "OFF")
    drive(daemon, 17, True)
    watcher.wait(trigger["state_topic"], "ON")
    watcher.wait(f"{PREFIX}/recording", "ON")
    drive(daemon, 17, False)
    watcher.wait(trigger["state_topic"], "OFF")
    snapshot = watcher.wait(image["image_topic"], timeout=20)  # taken when the clip started
    assert snapshot.payload[:2] == b"\xff\xd8", "the snapshot is a JPEG"
    watcher.close()


def test_the_record_button_records_a_clip(broker, daemon_factory):
    daemon = daemon_factory(mqtt_config(broker))
    watcher = watch(broker)
    button = json.loads(watcher.wait(f"{DISCOVERY}/button/{NODE}/record_clip/config").payload)
    watcher.wait(f"{PREFIX}/availability", "online")
    assert clips(daemon) == []
    watcher.publish(button["command_topic"], button.get("payload_press", "PRESS"))
    made = wait_for(lambda: clips(daemon), lambda c: len(c) == 1, 20, "a clip from the button")
    assert made[0]["trigger"] == "manual"
    watcher.wait(f"{PREFIX}/recording", "ON")
    assert daemon.stop() == 0  # a clean stop says goodbye itself
    watcher.wait(f"{PREFIX}/availability", "offline")
    watcher.close()


@pytest.mark.slow  # a real broker restart, waited out with the daemon's back-off (1, 2, 4 s...)
def test_after_a_broker_restart_it_reconnects_and_announces_again(broker, daemon_factory):
    daemon = daemon_factory(mqtt_config(broker))
    watcher = watch(broker)
    watcher.wait(f"{PREFIX}/availability", "online")
    watcher.close()
    broker.stop()  # retained messages go with it (no persistence)
    wait_for(daemon.health, lambda h: h["mqtt"]["state"] == "error", 20, "MQTT error while the broker is down")
    broker.start()
    watcher = watch(broker)
    watcher.wait(f"{PREFIX}/availability", "online", timeout=30)  # back-off: 1, 2, 4 s...
    watcher.wait_topics(f"{DISCOVERY}/", ENTITIES)
    watcher.close()
    again = watch(broker)  # what it published is retained at the new broker
    check_discovery(again.wait_topics(f"{DISCOVERY}/", ENTITIES))
    assert again.wait(f"{PREFIX}/availability", "online").retain
    assert daemon.health()["mqtt"]["state"] == "connected"
    assert daemon.health()["camera"]["state"] == "running"
    again.close()


def test_home_assistant_coming_online_gets_discovery_again(broker, daemon_factory):
    daemon_factory(mqtt_config(broker))
    watcher = watch(broker)
    watcher.wait_topics(f"{DISCOVERY}/", ENTITIES)
    watcher.publish(f"{DISCOVERY}/button/{NODE}/record_clip/config", "")  # as if it were lost
    watcher.wait(f"{DISCOVERY}/button/{NODE}/record_clip/config", "")
    watcher.publish(f"{DISCOVERY}/status", "online")
    config = json.loads(watcher.wait(f"{DISCOVERY}/button/{NODE}/record_clip/config", bool).payload)
    assert config["command_topic"] == f"{PREFIX}/record/press"
    watcher.close()


@pytest.mark.slow  # three refused logins, 1 s then 2 s apart: the daemon's back-off, waited out
def test_credentials(tmp_path, daemon_factory):
    """Refused credentials: one warning, an error in the status, streaming untouched; good ones connect."""
    broker = make_broker(tmp_path / "mosquitto", users={"camera": "right-password"})
    broker.start()
    try:
        refused = daemon_factory(mqtt_config(broker, 'username = "camera"\npassword = "wrong"\n'))
        status = wait_for(refused.health, lambda h: h["mqtt"]["state"] == "error", 20, "MQTT error")
        assert status["mqtt"]["last_error"], "the reason is given"
        # Three refused attempts (1 s, then 2 s apart): the daemon retried without saying it again.
        wait_for(broker.log, lambda log: log.count("not authorised") >= 3, 30, "three refused logins")
        health = refused.health()
        assert health["camera"]["state"] == "running"
        assert health["mqtt"]["state"] == "error"
        warnings = [line for line in refused.log().splitlines() if "WARNING" in line and "MQTT" in line]
        assert len(warnings) == 1, warnings

        accepted = daemon_factory(mqtt_config(broker, 'username = "camera"\npassword = "right-password"\n'))
        wait_for(accepted.health, lambda h: h["mqtt"]["state"] == "connected", 20, "MQTT connected")
    finally:
        broker.stop()


def test_motion_is_a_binary_sensor_too(broker, daemon_factory):
    daemon = daemon_factory(mqtt_config(broker, "[motion]\nenabled = true\nhold_seconds = 0.5\n"))
    watcher = watch(broker)
    motion = json.loads(watcher.wait(f"{DISCOVERY}/binary_sensor/{NODE}/trigger_motion/config").payload)
    assert motion["name"] == "Motion" and motion["device_class"] == "motion"  # HA: Detected/Clear, a motion icon
    watcher.wait(motion["state_topic"], "OFF")
    daemon.request("POST", "/api/sim/motion", json={"active": True}).raise_for_status()
    watcher.wait(motion["state_topic"], "ON", timeout=20)
    watcher.wait(f"{PREFIX}/recording", "ON")
    daemon.request("POST", "/api/sim/motion", json={"active": False}).raise_for_status()
    watcher.wait(motion["state_topic"], "OFF", timeout=20)
    watcher.close()


def test_the_snapshot_is_not_retained_by_default(broker, daemon_factory):
    """Home Assistant, subscribed, gets each snapshot; a client that subscribes later gets none."""
    daemon = daemon_factory(mqtt_config(broker))
    home_assistant = watch(broker)
    home_assistant.wait(f"{PREFIX}/availability", "online")
    drive(daemon, 17, True)
    snapshot = home_assistant.wait(f"{PREFIX}/snapshot", timeout=20)
    assert snapshot.payload[:2] == b"\xff\xd8" and not snapshot.retain
    drive(daemon, 17, False)
    home_assistant.close()
    late = watch(broker)
    late.wait(f"{PREFIX}/availability", "online")
    late.settle()  # every retained message has arrived
    assert f"{PREFIX}/snapshot" not in late.latest
    late.close()


def test_with_retain_snapshot_a_later_client_gets_the_last_snapshot(broker, daemon_factory):
    daemon = daemon_factory(mqtt_config(broker, "retain_snapshot = true\n"))
    watcher = watch(broker)
    watcher.wait(f"{PREFIX}/availability", "online")
    drive(daemon, 17, True)
    sent = watcher.wait(f"{PREFIX}/snapshot", timeout=20)
    watcher.close()
    late = watch(broker)  # as Home Assistant after a restart
    kept = late.wait(f"{PREFIX}/snapshot")
    assert kept.retain and kept.payload == sent.payload and kept.payload[:2] == b"\xff\xd8"
    late.close()


def test_a_snapshot_an_earlier_run_left_retained_is_cleared(broker, daemon_factory):
    earlier = watch(broker)
    earlier.publish(f"{PREFIX}/snapshot", b"\xff\xd8 an old picture", retain=True)  # as earlier versions did
    earlier.wait(f"{PREFIX}/snapshot", lambda text: text.endswith("an old picture"))
    daemon = daemon_factory(mqtt_config(broker))
    earlier.wait(f"{PREFIX}/snapshot", "")  # an empty retained message clears it
    earlier.close()
    wait_for(daemon.health, lambda h: h["mqtt"]["state"] == "connected", 20, "MQTT connected")
    late = watch(broker)
    late.settle()
    assert f"{PREFIX}/snapshot" not in late.latest
    late.close()


def documented_acl() -> str:
    """The Mosquitto ACL file in docs/home-assistant.md's MQTT section (for the camera garden-cam)."""
    page = (Path(__file__).parent.parent / "docs" / "home-assistant.md").read_text()
    blocks = re.findall(r"\n *```\n((?: *#[^\n]*\n)? *user garden-cam\n.*?)\n *```", page, re.S)
    assert len(blocks) == 1, "docs/home-assistant.md has one Mosquitto ACL example"
    return "\n".join(line.strip() for line in blocks[0].splitlines()) + "\n"


def test_the_documented_acl_lets_home_assistant_in_and_keeps_other_broker_users_out(tmp_path, daemon_factory):
    acl = (
        documented_acl()
        .replace("user garden-cam", "user camera")
        .replace("edge/garden-cam/", f"edge/{HOST}/")
        .replace("+/garden-cam/+", f"+/{NODE}/+")
    )
    acl += "\nuser neighbour\ntopic readwrite neighbour/#\n"  # the neighbour's own corner, to settle in
    users = {"camera": "camera-password", "homeassistant": "ha-password", "neighbour": "n-password"}
    broker = make_broker(tmp_path / "mosquitto", users=users, acl=acl)
    broker.start()
    try:
        daemon = daemon_factory(mqtt_config(broker, 'username = "camera"\npassword = "camera-password"\n'))
        neighbour = watch(broker, "neighbour", "n-password", client_id="neighbour")
        home_assistant = watch(broker, "homeassistant", "ha-password")
        configs = configs_by_component(home_assistant.wait_topics(f"{DISCOVERY}/", ENTITIES))
        assert configs["image"][0]["image_topic"] == f"{PREFIX}/snapshot"
        home_assistant.wait(f"{PREFIX}/availability", "online")
        home_assistant.publish(f"{PREFIX}/record/press", "PRESS")
        home_assistant.wait(f"{PREFIX}/snapshot", timeout=20)
        wait_for(lambda: clips(daemon), lambda c: len(c) == 1, 20, "the clip Home Assistant asked for")

        neighbour.publish(f"{PREFIX}/record/press", "PRESS")
        wait_for(broker.log, lambda log: "Denied PUBLISH from neighbour" in log, 10, "the broker's denial")
        neighbour.settle("neighbour/settle")  # what the broker had for it (retained and live) has arrived
        assert set(neighbour.latest) == {"neighbour/settle"}, "the neighbour sees nothing of the camera"
        assert len(clips(daemon)) == 1, "the neighbour's press made no clip"
        denied = [line for line in broker.log().splitlines() if "Denied" in line and f"from edge-{HOST} " in line]
        assert denied == [], "the camera needs nothing the ACL refuses"
        neighbour.close()
        home_assistant.close()
    finally:
        broker.stop()


def test_gpio_inputs_get_device_classes_from_their_name_or_their_config(broker, daemon_factory):
    triggers = (
        '[[triggers]]\nname = "front_door"\npin = 22\n'
        '[[triggers]]\nname = "hall"\npin = 23\ndevice_class = "occupancy"\n'
        '[[triggers]]\nname = "garage-pir"\npin = 24\ndevice_class = "none"\n'
    )
    link = 'configuration_url = "https://cam.example.org/"\n'
    daemon_factory(mqtt_config(broker, link) + triggers)
    watcher = watch(broker)
    configs = configs_by_component(watcher.wait_topics(f"{DISCOVERY}/", ENTITIES + 3))
    classes = {c["name"]: c.get("device_class") for c in configs["binary_sensor"]}
    assert classes == {
        "Doorbell": None,
        "Front door": "door",
        "Hall": "occupancy",
        "Garage pir": None,
        "Recording": "running",
    }
    assert configs["sensor"][0]["device"]["configuration_url"] == "https://cam.example.org/"
    watcher.close()


def test_the_viewers_sensor_counts_rtsp_clients_too(broker, daemon_factory):
    """Home Assistant streaming the camera over RTSP is a viewer (it was 0 while HA itself streamed)."""
    daemon = daemon_factory(mqtt_config(broker, "[rtsp]\nenabled = true\nport = 0\n"))
    watcher = watch(broker)
    viewers = json.loads(watcher.wait(f"{DISCOVERY}/sensor/{NODE}/viewers/config").payload)
    attributes = viewers["json_attributes_topic"]
    watcher.wait(viewers["state_topic"], "0")
    watcher.wait(attributes, lambda text: json.loads(text) == {"webrtc": 0, "rtsp": 0, "publish": 0})
    url = wait_for(daemon.health, lambda h: "url" in h["rtsp"], 10, "the RTSP server")["rtsp"]["url"]
    port = url.rsplit(":", 1)[1].split("/")[0]
    client = subprocess.Popen(
        ["ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", f"rtsp://edge:{daemon.token}@127.0.0.1:{port}/camera",
         "-f", "null", "-"],
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        watcher.wait(attributes, lambda text: json.loads(text)["rtsp"] == 1, timeout=20)
        watcher.wait(viewers["state_topic"], "1")
    finally:
        stop_process(client)
    watcher.wait(viewers["state_topic"], "0", timeout=20)
    watcher.close()
