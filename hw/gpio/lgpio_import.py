"""Whether lgpio imports here: gpiozero's pin factory on a Pi (the only one on a Pi 5).

Raspberry Pi OS has it from apt (python3-lgpio); without it gpiozero tries every other
factory and says only "Unable to load any default pin factory!".
"""

from __future__ import annotations

import importlib


def lgpio_location() -> str:
    """The file lgpio imports from; raises what importing it raises (ImportError, or OSError from its C library)."""
    return str(importlib.import_module("lgpio").__file__)
