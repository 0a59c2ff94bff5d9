"""Routes that exist only with simulated hardware: poke the fake devices from outside.

Every ``/api/sim/...`` route is here, each added only when its device is simulated
(:class:`~edge.hardware.SimulatedDevices` says which are).
"""

from __future__ import annotations

import time

from aiohttp import web

from edge.api.http import json_body
from edge.hardware import SimulatedDevices
from edge.web.errors import ErrorResponse
from edge.web.json_body import read_json
from hw.camera.simulated import SimulatedCamera
from hw.gpio.simulated import SimulatedGpio


def add_routes(app: web.Application, simulated: SimulatedDevices) -> None:
    if simulated.camera is not None:
        _add_camera_fault_route(app, simulated.camera)
        _add_scene_routes(app, simulated.camera)
    if simulated.gpio is not None:
        _add_gpio_route(app, simulated.gpio)


def _add_camera_fault_route(app: web.Application, camera: SimulatedCamera) -> None:
    async def inject(request: web.Request) -> web.Response:
        """``POST /api/sim/camera/fault`` with ``{"kind": "crash" | "stall" | "unplugged", "seconds": N}``."""
        body = await read_json(request)
        try:
            seconds = body.get("seconds", 0)
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise ValueError("seconds must be a number")
            camera.inject_fault(body["kind"], seconds)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ErrorResponse(
                400, f'send JSON {{"kind": "crash", "stall" or "unplugged", "seconds": N}}: {exc}'
            ) from None
        return web.Response(status=204)

    app.router.add_post("/api/sim/camera/fault", inject)


def _add_scene_routes(app: web.Application, camera: SimulatedCamera) -> None:
    """What motion detection sees: an object crossing the picture, and the light."""

    async def motion(request: web.Request) -> web.Response:
        """``POST /api/sim/motion`` with ``{"active": true | false}``."""
        active = await _active_flag(request)
        camera.simulate_motion(active)
        return web.json_response({"active": active, "at": time.time()})

    async def lighting(request: web.Request) -> web.Response:
        """``POST /api/sim/lighting`` with ``{"brightness": F}``, a factor (1.0: as normal)."""
        brightness = (await json_body(request)).get("brightness")
        try:
            if isinstance(brightness, bool) or not isinstance(brightness, (int, float)):
                raise ValueError("brightness must be a number")
            camera.simulate_lighting(float(brightness))
        except ValueError as exc:
            raise ErrorResponse(400, f'send JSON {{"brightness": F}}, F from 0.1 to 4 (1.0: normal): {exc}') from None
        return web.json_response({"brightness": brightness, "at": time.time()})

    app.router.add_post("/api/sim/motion", motion)
    app.router.add_post("/api/sim/lighting", lighting)


def _add_gpio_route(app: web.Application, gpio: SimulatedGpio) -> None:
    async def drive(request: web.Request) -> web.Response:
        """``POST /api/sim/gpio/{pin}`` with ``{"active": true | false}``: as if the trigger's wire changed."""
        try:
            pin = int(request.match_info["pin"])
        except ValueError:
            raise ErrorResponse(400, "the pin must be a BCM number") from None
        active = await _active_flag(request)
        try:
            gpio.drive(pin, active)  # the daemon's GPIO inputs are its triggers
        except KeyError:
            raise ErrorResponse(404, f"no trigger on GPIO{pin}") from None
        # Taken after the (synchronous) edge: the press happened at or before this instant.
        return web.json_response({"pin": pin, "active": active, "at": time.time()})

    app.router.add_post("/api/sim/gpio/{pin}", drive)


async def _active_flag(request: web.Request) -> bool:
    """The body's ``{"active": true | false}``, or :class:`ErrorResponse` (400)."""
    active = (await json_body(request)).get("active")
    if not isinstance(active, bool):
        raise ErrorResponse(400, 'send JSON {"active": true} or {"active": false}')
    return active
