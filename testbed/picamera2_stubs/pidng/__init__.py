"""Stand-in for PiDNG (Debian's python3-pidng), which PyPI has only as a C source package.

picamera2/request.py does `from pidng.camdefs import Picamera2Camera` and
`from pidng.core import PICAM2DNG` at import time and uses them only in save_dng(), which the
contract tests never call."""
