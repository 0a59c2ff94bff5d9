"""edge: a Raspberry Pi camera daemon.

camera -> hub -> viewers (WebRTC) / recorder; signaling (WHEP over aiohttp);
triggers (GPIO); network watch. Hardware lives in the sibling package ``hw``.
"""

__version__ = "0.1.0"
