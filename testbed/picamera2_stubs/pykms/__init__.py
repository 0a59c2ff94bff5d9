"""Minimal stand-in for pykms (python3-kms++). picamera2/previews/drm_preview.py does
`import pykms; from pykms import PixelFormat` at import time (after trying `import kms`) and reads
PixelFormat.{RGB888,BGR888,XRGB8888,XBGR8888,YUV420,YVU420,NV12} in a class body."""

import enum


class PixelFormat(enum.Enum):
    RGB888 = "RG24"
    BGR888 = "BG24"
    XRGB8888 = "XR24"
    XBGR8888 = "XB24"
    ARGB8888 = "AR24"
    ABGR8888 = "AB24"
    YUV420 = "YU12"
    YVU420 = "YV12"
    NV12 = "NV12"
    NV21 = "NV21"
    YUYV = "YUYV"


class PlaneType(enum.Enum):
    Overlay = 0
    Primary = 1
    Cursor = 2


class Card:
    def __init__(self, *a, **k):
        raise RuntimeError("pykms stub: no DRM device")
