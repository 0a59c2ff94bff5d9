"""A daemon with ONVIF on (WS-Discovery off: it multicasts, which only namespaces may), on 127.0.0.1."""

from __future__ import annotations

import pytest

from testbed.daemon import DaemonProcess

ONVIF_CONFIG = "[onvif]\nenabled = true\ndiscovery = false\n[rtsp]\nenabled = true\nport = 0\n"


@pytest.fixture(scope="module")
def onvif_daemon(module_daemon_factory) -> DaemonProcess:
    return module_daemon_factory(ONVIF_CONFIG)
