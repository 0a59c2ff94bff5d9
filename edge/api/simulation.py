"""Routes that exist only with simulated hardware: poke the fake devices from outside.

Every ``/api/sim/...`` route is here, each added only when its device is simulated.
"""

from __future__ import annotations

import time

from aiohttp import web

from edge.api.http import json_body, reject
from edge.triggers.gpio import GpioTriggers
from edge.web.json_body import JsonBodyError, read_json
from hw.camera import Camera
from hw.camera.simulated import SimulatedCamera


def add_routes(app: web.Application, camera: Camera, triggers: GpioTriggers) -> None:
    if isinstance(camera, SimulatedCamera):
        _add_camera_fault_route(app, camera)
        _add_scene_routes(app, camera)
    if triggers.gpio.simulated:
        _add_gpio_route(app, triggers)


def _add_camera_fault_route(app: web.Application, camera: SimulatedCamera) -> None:
    async def inject(request: web.Request) -> web.Response:
        """``POST /api/sim/camera/fault`` with ``{"kind": "crash" | "stall" | "unplugged", "seconds": N}``."""
        try:
            body = await read_json(request)
        except JsonBodyError as exc:
            return reject(exc.status, exc.reason)
        try:
            seconds = body.get("seconds", 0)
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise ValueError("seconds must be a number")
            camera.inject_fault(body["kind"], seconds)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return web.Response(
                status=400, text=f'send JSON {{"kind": "crash", "stall" or "unplugged", "seconds": N}}: {exc}\n'
            )
        return web.Response(status=204)

    app.router.add_post("/api/sim/camera/fault", inject)


def _add_scene_routes(app: web.Application, camera: SimulatedCamera) -> None:
    """What motion detection sees: an object crossing the picture, and the light."""

    async def motion(request: web.Request) -> web.Response:
        """``POST /api/sim/motion`` with ``{"active": true | false}``."""
        active = await _active_flag(request)
        if isinstance(active, web.Response):
            return active
        camera.simulate_motion(active)
        return web.json_response({"active": active, "at": time.time()})

    async def lighting(request: web.Request) -> web.Response:
        """``POST /api/sim/lighting`` with ``{"brightness": F}``, a factor (1.0: as normal)."""
        body = await json_body(request)
        if isinstance(body, web.Response):
            return body
        brightness = body.get("brightness")
        try:
            if isinstance(brightness, bool) or not isinstance(brightness, (int, float)):
                raise ValueError("brightness must be a number")
            camera.simulate_lighting(float(brightness))
        except ValueError as exc:
            return reject(400, f'send JSON {{"brightness": F}}, F from 0.1 to 4 (1.0: normal): {exc}')
        return web.json_response({"brightness": brightness, "at": time.time()})

    app.router.add_post("/api/sim/motion", motion)
    app.router.add_post("/api/sim/lighting", lighting)


def _add_gpio_route(app: web.Application, triggers: GpioTriggers) -> None:
    async def drive(request: web.Request) -> web.Response:
        """``POST /api/sim/gpio/{pin}`` with ``{"active": true | false}``: as if the trigger's wire changed."""
        try:
            pin = int(request.match_info["pin"])
        except ValueError:
            return reject(400, "the pin must be a BCM number")
        active = await _active_flag(request)
        if isinstance(active, web.Response):
            return active
        try:
            triggers.simulate(pin, active)
        except KeyError:
            return reject(404, f"no trigger on GPIO{pin}")
        # Taken after the (synchronous) edge: the press happened at or before this instant.
        return web.json_response({"pin": pin, "active": active, "at": time.time()})

    app.router.add_post("/api/sim/gpio/{pin}", drive)


async def _active_flag(request: web.Request) -> bool | web.Response:
    """The body's ``{"active": true | false}``, or the 400 to answer instead."""
    body = await json_body(request)
    if isinstance(body, web.Response):
        return body
    active = body.get("active")
    if not isinstance(active, bool):
        return reject(400, 'send JSON {"active": true} or {"active": false}')
    return active
