"""Routes that exist only with simulated hardware: poke the fake devices from outside."""

from __future__ import annotations

from aiohttp import web

from hw.camera.simulated import SimulatedCamera


def add_camera_fault_route(app: web.Application, camera: SimulatedCamera) -> None:
    async def inject(request: web.Request) -> web.Response:
        """``POST /api/sim/camera/fault`` with ``{"kind": "crash" | "stall" | "unplugged", "seconds": N}``."""
        try:
            body = await request.json()
            camera.inject_fault(body["kind"], float(body.get("seconds", 0)))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return web.Response(
                status=400, text=f'send JSON {{"kind": "crash", "stall" or "unplugged", "seconds": N}}: {exc}\n'
            )
        return web.Response(status=204)

    app.router.add_post("/api/sim/camera/fault", inject)
