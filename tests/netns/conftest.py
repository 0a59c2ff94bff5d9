"""Tests here make network namespaces and veth pairs: they need root and iproute2."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.netns.topology import CameraNamespace


def pytest_collection_modifyitems(items):
    if os.geteuid() != 0 or shutil.which("ip") is None:
        raise pytest.UsageError("network namespace tests need root and iproute2: run make test as root, as CI does")


@pytest.fixture
def netns():
    """A camera namespace, removed afterwards whatever happens."""
    namespace = CameraNamespace()
    yield namespace
    namespace.close()
