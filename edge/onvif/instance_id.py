"""WS-Discovery's InstanceId: a number that must grow at each start of the device.

A Pi has no real-time clock: until NTP answers it boots with the time it last saved, which
can be earlier than a previous start's, so the clock cannot give it. It is a counter kept
in the state directory, one more at each start. The first one is the clock's seconds, as
earlier versions used, so that an upgrade does not make it go back.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from edge.files import write_atomic

log = logging.getLogger(__name__)

FILE_NAME = "wsd-instance-id"
MAX_INSTANCE_ID = 2**32 - 1  # an xs:unsignedInt


def next_instance_id(state_path: Path) -> int:
    """The last start's InstanceId plus one (kept for the next start), or the clock's seconds the first time."""
    path = state_path / FILE_NAME
    try:
        previous = int(path.read_text().strip())
    except FileNotFoundError:
        previous = int(time.time()) - 1
    except (OSError, ValueError) as exc:
        log.warning("ONVIF: %s is unreadable (%s): WS-Discovery's InstanceId starts again from the clock", path, exc)
        previous = int(time.time()) - 1
    instance_id = min(previous + 1, MAX_INSTANCE_ID)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, f"{instance_id}\n", mode=0o644)
    except OSError as exc:
        log.warning("ONVIF: cannot keep WS-Discovery's InstanceId in %s (%s): the next start may repeat it", path, exc)
    return instance_id
