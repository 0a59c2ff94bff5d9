"""MQTT: the camera as a Home Assistant device (discovery, states, a record button, a snapshot).

The MQTT client is loaded only when ``[mqtt] host`` is set: a daemon without MQTT
starts without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from edge.config import MqttConfig
from edge.media.snapshot import Snapshots
from edge.mqtt.status import Audience
from edge.service import Off

if TYPE_CHECKING:
    from edge.mqtt.client import MqttBridge, RecorderLike
    from edge.triggers.combined import Triggers


def open_mqtt(
    config: MqttConfig,
    recorder: RecorderLike,
    triggers: Triggers,
    device_classes: dict[str, str],
    audience: Callable[[], Audience],
    snapshots: Snapshots,
    page_url: Callable[[], str],
) -> MqttBridge | Off:
    """The bridge to ``[mqtt] host``; off when no broker is set.

    ``device_classes``: each GPIO input's configured ``device_class`` (motion's is "motion").
    """
    if not config.host:
        return Off("mqtt")
    from edge.mqtt.client import MqttBridge
    from edge.mqtt.discovery import input_device_class

    inputs = {name: input_device_class(name, device_classes.get(name, "auto")) for name in triggers.names()}
    return MqttBridge(config, recorder, triggers, inputs, audience, snapshots, page_url)
