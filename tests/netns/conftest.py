"""Tests here make network namespaces and veth pairs: they need root and iproute2."""

from __future__ import annotations

import os
import shutil

import pytest

from testbed.netns.topology import CameraNamespace


@pytest.fixture(autouse=True)
def root_and_iproute2():
    """Fail (not skip) without them: ``make test`` runs as root and installs iproute2."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.fail("network namespace tests need root and iproute2: run make test as root, as CI does")


@pytest.fixture
def netns():
    """A camera namespace, removed afterwards whatever happens."""
    namespace = CameraNamespace()
    yield namespace
    namespace.close()


@pytest.fixture(scope="module")
def playwright():
    """Playwright's sync API, for tests that launch their own browsers (in a namespace: testbed/netns/remote.py)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p
