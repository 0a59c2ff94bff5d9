"""Hardware adapters.

Each kind of device (camera, microphone, GPIO, network) has one small interface
and, side by side, a real implementation for the Raspberry Pi and a simulated
one that runs anywhere. The daemon (``edge``) only ever sees the interfaces.
Hardware libraries (picamera2, lgpio, ...) are imported lazily, only by the
real adapter that needs them.
"""
