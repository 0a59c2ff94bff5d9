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
from edge.config import AUTO_DEVICE_CLASS, NO_DEVICE_CLASS, MqttConfig

ONLINE = "online"
OFFLINE = "offline"
ON = "ON"
OFF = "OFF"
PRESS = "PRESS"


# [[triggers]] device_class = "auto": a word of the input's name -> Home Assistant's device class.
DEVICE_CLASS_WORDS = {
    "door": "door",
    "window": "window",
    "garage": "garage_door",
    "gate": "opening",
    "motion": "motion",
    "pir": "motion",
    "occupancy": "occupancy",
    "presence": "presence",
    "vibration": "vibration",
    "smoke": "smoke",
    "leak": "moisture",
    "water": "moisture",
}


def input_device_class(name: str, configured: str = AUTO_DEVICE_CLASS) -> str | None:
    """The device class of an input's binary sensor; None: plain On/Off."""
    if configured == NO_DEVICE_CLASS:
        return None
    if configured != AUTO_DEVICE_CLASS:
        return configured
    words = re.split(r"[-_]", name.lower())
    return next((DEVICE_CLASS_WORDS[w] for w in words if w in DEVICE_CLASS_WORDS), None)


def display_name(name: str) -> str:
    """A trigger's name as Home Assistant shows entity names: "front_door" -> "Front door"."""
    words = re.sub(r"[-_]+", " ", name).strip()
    return words[:1].upper() + words[1:]


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
    def viewer_counts(self) -> str:
        """The Viewers sensor's attributes: WebRTC viewers, RTSP clients and publish targets apart."""
        return f"{self.prefix}/viewers/attributes"

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


def device(topics: Topics, configuration_url: str) -> dict[str, Any]:
    return {
        "identifiers": [f"edge_{topics.node}"],
        "name": topics.hostname,
        "manufacturer": "edge",
        "model": "edge camera daemon",
        "sw_version": __version__,
        "configuration_url": configuration_url,
    }


def discovery_configs(
    topics: Topics, inputs: dict[str, str | None], configuration_url: str
) -> dict[str, dict[str, Any]]:
    """{config topic: payload} for every entity of the camera.

    ``inputs``: each trigger's name (GPIO inputs and motion) and its binary sensor's device
    class; ``configuration_url``: the camera's page, linked from the device in Home Assistant.
    """
    common = {"availability_topic": topics.availability, "device": device(topics, configuration_url)}

    def entity(object_id: str, name: str, **fields: object) -> dict[str, Any]:
        present = {k: v for k, v in fields.items() if v is not None}
        return {"unique_id": f"edge_{topics.node}_{object_id}", "name": name, **common, **present}

    configs = {
        topics.config("binary_sensor", f"trigger_{_node(name)}"): entity(
            f"trigger_{_node(name)}",
            display_name(name),
            state_topic=topics.trigger(name),
            payload_on=ON,
            payload_off=OFF,
            device_class=device_class,
        )
        for name, device_class in inputs.items()
    }
    configs[topics.config("binary_sensor", "recording")] = entity(
        "recording", "Recording", state_topic=topics.recording, payload_on=ON, payload_off=OFF, device_class="running"
    )
    configs[topics.config("sensor", "viewers")] = entity(
        "viewers",
        "Viewers",
        state_topic=topics.viewers,
        json_attributes_topic=topics.viewer_counts,
        state_class="measurement",
        icon="mdi:eye",
    )
    configs[topics.config("button", "record_clip")] = entity(
        "record_clip", "Record clip", command_topic=topics.record_command, payload_press=PRESS, icon="mdi:record-rec"
    )
    configs[topics.config("image", "snapshot")] = entity(
        "snapshot", "Snapshot", image_topic=topics.snapshot, content_type="image/jpeg"
    )
    return configs
