"""Minimal stand-in for the libcamera Python bindings (Raspberry Pi's python3-libcamera).

Just enough for `import picamera2`, `picamera2.encoders`, `picamera2.outputs` (picamera2 0.3.32 .. 0.3.38)
and for driving encoders with fake CompletedRequests.  Everything picamera2 touches at *import time*:
  CameraManager, ColorSpace(.Sycc/.Smpte170m/.Rec709, hashable), ControlType, Orientation.Rotate*,
  Rectangle, Size, StreamRole.{Raw,StillCapture,VideoRecording,Viewfinder},
  Transform(hflip=, vflip=, transpose=) (hashable, used as dict keys in picamera2/utils.py), controls.
What the encoders touch at run time: controls.SensorTimestamp (a hashable key of request.metadata,
with .name for CompletedRequest.get_metadata()). What Picamera2's own configuration checks and
request loop touch (run on testbed/fake_picamera2.py's camera): _libcamera.{ColorSpace,Transform}
(check_camera_config's isinstance checks) and FrameMetadata.Status (process_requests keeps
only requests whose first buffer says Success).
"""

import enum
from typing import ClassVar


class Size:
    def __init__(self, width=0, height=0):
        self.width, self.height = width, height

    def __str__(self):
        return f"{self.width}x{self.height}"


class Rectangle:
    def __init__(self, x=0, y=0, width=0, height=0):
        self.x, self.y, self.width, self.height = x, y, width, height

    def __str__(self):
        return f"({self.x}, {self.y})/{self.width}x{self.height}"


class Transform:
    def __init__(self, other=None, *, hflip=0, vflip=0, transpose=0, rotation=0):
        if other is not None:  # copy constructor, used by picamera2.utils.orientation_to_transform
            hflip, vflip, transpose = other.hflip, other.vflip, other.transpose
        self.hflip, self.vflip, self.transpose = bool(hflip), bool(vflip), bool(transpose)

    def __str__(self):
        return f"<libcamera.Transform hflip={int(self.hflip)} vflip={int(self.vflip)} transpose={int(self.transpose)}>"

    __hash__ = object.__hash__  # picamera2/__init__.py replaces __eq__ after utils.py built its dicts


class ColorSpace:
    class Primaries(enum.Enum):
        Raw = 0
        Smpte170m = 1
        Rec709 = 2
        Rec2020 = 3

    class TransferFunction(enum.Enum):
        Linear = 0
        Srgb = 1
        Rec709 = 2

    class YcbcrEncoding(enum.Enum):
        Null = 0
        Rec601 = 1
        Rec709 = 2
        Rec2020 = 3

    class Range(enum.Enum):
        Full = 0
        Limited = 1

    def __init__(self, other=None, primaries=None, transferFunction=None, ycbcrEncoding=None, range=None):
        if other is not None:
            primaries, transferFunction = other.primaries, other.transferFunction
            ycbcrEncoding, range = other.ycbcrEncoding, other.range
        self.primaries, self.transferFunction = primaries, transferFunction
        self.ycbcrEncoding, self.range = ycbcrEncoding, range

    def __str__(self):
        parts = (self.primaries, self.transferFunction, self.ycbcrEncoding, self.range)
        return f"<libcamera.ColorSpace {'/'.join(p.name for p in parts)}>"

    __hash__ = object.__hash__  # instances are put in a set in picamera2/utils.py


def _named_colour_space(primaries, transfer, encoding, range_):
    C = ColorSpace
    return staticmethod(
        lambda: C(
            None, C.Primaries[primaries], C.TransferFunction[transfer], C.YcbcrEncoding[encoding], C.Range[range_]
        )
    )


# libcamera's named colour spaces (picamera2/utils.py puts three of them in a set at import)
ColorSpace.Raw = _named_colour_space("Raw", "Linear", "Null", "Full")
ColorSpace.Sycc = _named_colour_space("Rec709", "Srgb", "Rec601", "Full")
ColorSpace.Smpte170m = _named_colour_space("Smpte170m", "Rec709", "Rec601", "Limited")
ColorSpace.Rec709 = _named_colour_space("Rec709", "Rec709", "Rec709", "Limited")


class Orientation(enum.Enum):
    Rotate0 = 1
    Rotate0Mirror = 2
    Rotate180 = 3
    Rotate180Mirror = 4
    Rotate90Mirror = 5
    Rotate270 = 6
    Rotate90 = 7
    Rotate270Mirror = 8


class StreamRole(enum.Enum):
    Raw = 0
    StillCapture = 1
    VideoRecording = 2
    Viewfinder = 3


class ControlType(enum.Enum):
    Null = 0
    Bool = 1
    Byte = 2
    Integer32 = 3
    Integer64 = 4
    Float = 5
    String = 6
    Rectangle = 7
    Size = 8
    Point = 9


class ControlId:
    """Hashable control id; request.metadata is keyed by these, CompletedRequest.get_metadata() uses .name."""

    def __init__(self, name, id_, type_):
        self.name, self.id, self.type = name, id_, type_

    def __repr__(self):
        return f"libcamera.ControlId({self.name})"


class controls:  # `from libcamera import controls` -> the real thing is a submodule; a namespace works the same
    SensorTimestamp = ControlId("SensorTimestamp", 0x1001, ControlType.Integer64)
    FrameDuration = ControlId("FrameDuration", 0x1002, ControlType.Integer64)
    ExposureTime = ControlId("ExposureTime", 0x1003, ControlType.Integer32)
    AnalogueGain = ControlId("AnalogueGain", 0x1004, ControlType.Float)
    ExposureTimeMode = ControlId("ExposureTimeMode", 0x1005, ControlType.Integer32)
    AnalogueGainMode = ControlId("AnalogueGainMode", 0x1006, ControlType.Integer32)
    FrameDurationLimits = ControlId("FrameDurationLimits", 0x1007, ControlType.Integer64)

    class draft:
        class NoiseReductionModeEnum(enum.Enum):
            Off = 0
            Fast = 1
            HighQuality = 2
            Minimal = 3
            ZSL = 4


class FrameMetadata:
    """A FrameBuffer's metadata: ``status`` (and ``planes``, each with ``bytes_used``)."""

    class Status(enum.Enum):
        Success = 0
        Error = 1
        Cancelled = 2


class _libcamera:  # the compiled module the real package re-exports from; picamera2 names its classes there
    ColorSpace = ColorSpace
    Transform = Transform


class CameraManager:
    """No cameras.  picamera2 only touches this lazily (Picamera2.__init__ / global_camera_info)."""

    cameras: ClassVar[list[object]] = []

    @staticmethod
    def singleton():
        return CameraManager()
