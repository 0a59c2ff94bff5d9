"""A real MQTT broker (Debian's mosquitto) on a free loopback port, and a client that watches it.

The broker keeps nothing on disk (``persistence false``): after a restart, retained
messages are there only if a client published them again.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as paho

from testbed.processes import free_port, stop_process

MOSQUITTO = "/usr/sbin/mosquitto"


@dataclass
class Mosquitto:
    directory: Path
    port: int
    proc: subprocess.Popen | None = None
    starts: int = 0

    @property
    def config(self) -> Path:
        return self.directory / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        return self.directory / f"mosquitto-{self.starts}.log"

    def log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.directory.glob("mosquitto-*.log")))

    def start(self, timeout: float = 10) -> None:
        self.starts += 1
        log = self.log_path.open("w")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while "listen socket on port" not in self.log_path.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not start:\n{self.log()}")
            time.sleep(0.05)

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


def make_broker(directory: Path, users: dict[str, str] | None = None, acl: str | None = None) -> Mosquitto:
    """A broker configured in ``directory``: anonymous, or only ``users`` (name: password).

    ``acl``: the text of a Mosquitto ACL file, which then decides who reads and writes what;
    the log then has the debug lines too ("Denied PUBLISH from <client id> ...")."""
    if shutil.which("mosquitto_passwd") is None or not Path(MOSQUITTO).exists():
        raise RuntimeError("mosquitto is not installed: apt-get install mosquitto (make test installs it)")
    directory.mkdir(parents=True, exist_ok=True)
    broker = Mosquitto(directory, free_port())
    lines = [
        f"listener {broker.port} 127.0.0.1",
        "persistence false",
        "log_dest stderr",  # unbuffered
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        "user root",  # as root mosquitto would switch to the "mosquitto" user, who cannot read tmp_path
    ]
    if users:
        passwords = directory / "passwords"
        passwords.touch(mode=0o600)
        for name, password in users.items():
            subprocess.run(["mosquitto_passwd", "-b", str(passwords), name, password], check=True)
        lines += ["allow_anonymous false", f"password_file {passwords}"]
    else:
        lines.append("allow_anonymous true")
    if acl is not None:
        (directory / "acl").write_text(acl)
        lines += [f"acl_file {directory / 'acl'}", "log_type debug"]
    broker.config.write_text("\n".join(lines) + "\n")
    return broker


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool

    @property
    def text(self) -> str:
        return self.payload.decode(errors="replace")


@dataclass
class Watcher:
    """A client subscribed to everything: the last message per topic, waited for with a timeout."""

    client: paho.Client
    latest: dict[str, Received] = field(default_factory=dict)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def wait(self, topic: str, payload: str | Callable[[str], bool] | None = None, timeout: float = 20) -> Received:
        """The last message on ``topic`` once there is one (with ``payload``, or for which it is true)."""

        def ready() -> bool:
            message = self.latest.get(topic)
            if message is None or payload is None:
                return message is not None
            return payload(message.text) if callable(payload) else message.text == payload

        with self.changed:
            if not self.changed.wait_for(ready, timeout):
                seen = {t: m.payload[:60] for t, m in self.latest.items()}
                raise AssertionError(f"timed out after {timeout} s waiting for {topic} = {payload!r}; seen: {seen}")
            return self.latest[topic]

    def wait_topics(self, prefix: str, count: int, timeout: float = 20) -> dict[str, Received]:
        """Once ``count`` topics starting with ``prefix`` have had a message: those messages."""

        def matching() -> dict[str, Received]:
            return {t: m for t, m in self.latest.items() if t.startswith(prefix)}

        with self.changed:
            if not self.changed.wait_for(lambda: len(matching()) >= count, timeout):
                raise AssertionError(f"timed out after {timeout} s waiting for {count} topics under {prefix}")
            return matching()

    def publish(self, topic: str, payload: str | bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def settle(self, topic: str = "testbed/settle") -> None:
        """Wait until everything the broker had for this client has arrived: a message it
        publishes on ``topic`` (which it must be allowed to write and read) comes back after."""
        token = uuid.uuid4().hex
        self.publish(topic, token)
        self.wait(topic, token)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def watch(broker: Mosquitto, username: str | None = None, password: str | None = None, client_id: str = "") -> Watcher:
    """A connected client subscribed to ``#`` (so it gets every retained message at once)."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id)
    watcher = Watcher(client)
    subscribed = threading.Event()
    if username:
        client.username_pw_set(username, password)

    def on_connect(client: paho.Client, userdata: object, flags: object, reason: object, properties: object) -> None:
        client.subscribe("#", qos=1)

    def on_subscribe(*args: object) -> None:
        subscribed.set()

    def on_message(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        with watcher.changed:
            watcher.latest[message.topic] = Received(message.topic, message.payload, bool(message.retain))
            watcher.changed.notify_all()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    if not subscribed.wait(10):
        client.loop_stop()
        raise RuntimeError(f"could not subscribe at the broker on port {broker.port}:\n{broker.log()}")
    return watcher
