"""The topics the camera uses and its Home Assistant MQTT discovery configs.

One device per camera, named by the hostname; each entity's config is published
retained to ``<discovery_prefix>/<component>/<node>/<object>/config``. Every entity
is available while ``<prefix>/availability`` is ``online`` (the broker publishes
``offline``, the will, when the camera goes away).
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from typing import Any

from edge import __version__
from edge.config import MqttConfig

ONLINE = "online"
OFFLINE = "offline"
ON = "ON"
OFF = "OFF"
PRESS = "PRESS"


def _node(hostname: str) -> str:
    """The hostname as Home Assistant allows in a discovery topic and an id: ``[A-Za-z0-9_-]``."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", hostname) or "edge"


@dataclass(frozen=True)
class Topics:
    hostname: str
    prefix: str
    discovery_prefix: str

    @classmethod
    def of(cls, config: MqttConfig, hostname: str | None = None) -> Topics:
        hostname = hostname or socket.gethostname()
        return cls(hostname, config.topic_prefix or f"edge/{hostname}", config.discovery_prefix)

    @property
    def node(self) -> str:
        return _node(self.hostname)

    @property
    def availability(self) -> str:
        return f"{self.prefix}/availability"

    @property
    def recording(self) -> str:
        return f"{self.prefix}/recording"

    @property
    def viewers(self) -> str:
        return f"{self.prefix}/viewers"

    @property
    def record_command(self) -> str:
        return f"{self.prefix}/record/press"

    @property
    def snapshot(self) -> str:
        return f"{self.prefix}/snapshot"

    @property
    def home_assistant_status(self) -> str:
        """Home Assistant publishes ``online`` here when it starts: then discovery is sent again."""
        return f"{self.discovery_prefix}/status"

    def trigger(self, name: str) -> str:
        return f"{self.prefix}/trigger/{name}"

    def config(self, component: str, object_id: str) -> str:
        return f"{self.discovery_prefix}/{component}/{self.node}/{object_id}/config"


def device(topics: Topics) -> dict[str, Any]:
    return {
        "identifiers": [f"edge_{topics.node}"],
        "name": topics.hostname,
        "manufacturer": "edge",
        "model": "edge camera daemon",
        "sw_version": __version__,
    }


def discovery_configs(topics: Topics, triggers: list[str]) -> dict[str, dict[str, Any]]:
    """{config topic: payload} for every entity of the camera; ``triggers``: the GPIO triggers' names."""
    common = {"availability_topic": topics.availability, "device": device(topics)}

    def entity(object_id: str, name: str, **fields: object) -> dict[str, Any]:
        return {"unique_id": f"edge_{topics.node}_{object_id}", "name": name, **common, **fields}

    configs = {
        topics.config("binary_sensor", f"trigger_{_node(name)}"): entity(
            f"trigger_{_node(name)}", name, state_topic=topics.trigger(name), payload_on=ON, payload_off=OFF
        )
        for name in triggers
    }
    configs[topics.config("binary_sensor", "recording")] = entity(
        "recording", "Recording", state_topic=topics.recording, payload_on=ON, payload_off=OFF, device_class="running"
    )
    configs[topics.config("sensor", "viewers")] = entity(
        "viewers", "Viewers", state_topic=topics.viewers, state_class="measurement", icon="mdi:eye"
    )
    configs[topics.config("button", "record_clip")] = entity(
        "record_clip", "Record clip", command_topic=topics.record_command, payload_press=PRESS, icon="mdi:record-rec"
    )
    configs[topics.config("image", "snapshot")] = entity(
        "snapshot", "Snapshot", image_topic=topics.snapshot, content_type="image/jpeg"
    )
    return configs
