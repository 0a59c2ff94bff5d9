"""Every line about a viewer's session starts with the same short prefix."""

import logging

import pytest

from edge.webrtc.session import SessionLog


def test_each_line_is_prefixed_with_the_sessions_short_id(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.INFO, logger="edge.webrtc.session"):
        SessionLog("abcdefgh-rest-of-the-id").info("new path via %s:%d", "192.0.2.1", 5000)
    assert caplog.messages == ["session abcdefgh: new path via 192.0.2.1:5000"]
