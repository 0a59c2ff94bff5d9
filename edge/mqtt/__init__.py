"""MQTT: the camera as a Home Assistant device (discovery, states, a record button, a snapshot).

The MQTT client is loaded only when ``[mqtt] host`` is set: a daemon without MQTT
starts without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from edge.config import MqttConfig
from edge.media.snapshot import Snapshots
from edge.service import Off

if TYPE_CHECKING:
    from edge.mqtt.client import MqttBridge, RecorderLike
    from edge.triggers.combined import Triggers


def open_mqtt(
    config: MqttConfig,
    recorder: RecorderLike,
    triggers: Triggers,
    viewer_count: Callable[[], int],
    snapshots: Snapshots,
) -> MqttBridge | Off:
    """The bridge to ``[mqtt] host``; off when no broker is set."""
    if not config.host:
        return Off("mqtt")
    from edge.mqtt.client import MqttBridge

    return MqttBridge(config, recorder, triggers, triggers.names(), viewer_count, snapshots)
