from __future__ import annotations

import contextlib

import pytest

from testbed.fake_picamera2 import FakeCamera
from testbed.picamera2_env import OLDEST, TRIXIE, picamera2_as
from tests.pi.fake_v4l2_m2m import FakeCodec, FakeM2M, install


class PiUnderTest:
    def __init__(self, version: str, model: str, picamera2, codec: FakeCodec | None) -> None:
        self.version = version
        self.model = model
        self.picamera2 = picamera2
        self.codec = codec  # the fake V4L2 encoder of a Pi 4 (None on a Pi 5)

    @property
    def device(self) -> FakeM2M | None:
        """The Pi 4's encode session of the main stream: the last opened (the daemon starts the low stream's first)."""
        return self.codec.sessions[-1] if self.codec is not None else None


@contextlib.contextmanager
def pi_with(version: str, model: str):
    """picamera2 as a Pi 5 (libx264) or a Pi 4 (V4L2, over a fake /dev/video11) sees it."""
    FakeCamera.opened.clear()
    with picamera2_as(version, model) as picamera2:
        if model == "pi4":
            with install(FakeCodec()) as codec:
                yield PiUnderTest(version, model, picamera2, codec)
        else:
            yield PiUnderTest(version, model, picamera2, None)


def _id(param: tuple[str, str]) -> str:
    return f"picamera2-{param[0]}-{param[1]}"


@pytest.fixture(params=[(TRIXIE, "pi5"), (TRIXIE, "pi4"), (OLDEST, "pi5"), (OLDEST, "pi4")], ids=_id)
def pi(request):
    with pi_with(*request.param) as under_test:
        yield under_test


@pytest.fixture(params=[(TRIXIE, "pi5"), (OLDEST, "pi5")], ids=_id)
def pi5(request):
    with pi_with(*request.param) as under_test:
        yield under_test


@pytest.fixture(params=[(TRIXIE, "pi4"), (OLDEST, "pi4")], ids=_id)
def pi4(request):
    with pi_with(*request.param) as under_test:
        yield under_test
