"""Recordings over HTTP: list, start and stop a manual clip, delete, download.

Clip names are checked against the strict pattern the recorder uses *and* must
be in the library's index, so nothing outside the recordings directory is ever
served or deleted. Errors are 4xx with a one-line plain-text reason.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from aiohttp import web

from edge.api.http import json_body
from edge.recording.library import ClipInfo
from edge.recording.recorder import Recorder, RecorderState
from edge.web.errors import ErrorResponse
from edge.web.forwarded import prefix

RECORDER_KEY = web.AppKey("recorder", Recorder)
NO_CACHE = {"Cache-Control": "no-cache"}


def clip_json(info: ClipInfo, path_prefix: str) -> dict[str, Any]:
    """A clip as the API lists it; its links start with ``path_prefix`` (a trusted proxy's, ``/cam``)."""
    return {
        "name": info.name,
        "trigger": info.trigger,
        "triggers": info.triggers,
        "started_at": datetime.fromtimestamp(info.started_at).astimezone().isoformat(timespec="milliseconds"),
        "duration_s": info.duration_s,
        "size_bytes": info.size_bytes,
        "has_audio": info.has_audio,
        "complete": info.complete,
        "ended_by": info.ended_by,
        "url": f"{path_prefix}/recordings/{info.name}",
        "poster": f"{path_prefix}/recordings/{info.name.removesuffix('.mp4')}.jpg" if info.poster else None,
    }


async def list_clips(request: web.Request) -> web.Response:
    library = request.app[RECORDER_KEY].library
    return web.json_response([clip_json(c, prefix(request)) for c in library.clips()], headers=NO_CACHE)


async def start_clip(request: web.Request) -> web.Response:
    recorder = request.app[RECORDER_KEY]
    body = await json_body(request)
    seconds = body.get("seconds")
    limit = recorder.max_clip_us / 1e6
    if seconds is not None and (
        isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= limit
    ):
        raise ErrorResponse(400, f"seconds must be a number above 0 and at most {limit:g} (recording.max_clip_seconds)")
    name = recorder.record(seconds)
    status = recorder.status()
    if status["state"] == RecorderState.IDLE:  # refused: no room to record
        raise ErrorResponse(507, status["last_error"] or "cannot record now")
    return web.json_response({"clip": name, "recording": status}, status=202)


async def stop_clip(request: web.Request) -> web.Response:
    return web.json_response({"stopped": request.app[RECORDER_KEY].stop_clip()})


async def delete_clip(request: web.Request) -> web.Response:
    library = request.app[RECORDER_KEY].library
    name = request.match_info["name"]
    info = library.get(name)
    if info is None:
        raise ErrorResponse(404, "no such clip")
    if not info.complete:
        raise ErrorResponse(409, "this clip is still being written")
    library.forget(name)
    try:
        await asyncio.to_thread(library.delete_files, name)
    except OSError as exc:
        library.add(info)
        raise ErrorResponse(500, f"cannot delete: {exc.strerror}") from None
    return web.Response(status=204)


async def get_clip(request: web.Request) -> web.StreamResponse:
    library = request.app[RECORDER_KEY].library
    name = request.match_info["name"]
    if name.endswith(".jpg"):  # a clip's poster picture
        clip = library.get(name.removesuffix(".jpg") + ".mp4")
        if clip is None or not clip.poster:
            raise ErrorResponse(404, "no such poster")
        # A poster never changes once made: the list, redrawn every few seconds, reuses it.
        headers = {"Cache-Control": "private, max-age=86400", "Content-Type": "image/jpeg"}
        return web.FileResponse(library.poster_path(clip.name), headers=headers)
    if library.get(name) is None:
        raise ErrorResponse(404, "no such clip")
    # FileResponse answers Range requests (206), so the browser can seek.
    return web.FileResponse(library.path(name), headers={**NO_CACHE, "Content-Type": "video/mp4"})


def add_routes(app: web.Application, recorder: Recorder) -> None:
    app[RECORDER_KEY] = recorder
    app.router.add_get("/api/recordings", list_clips)
    app.router.add_post("/api/recordings", start_clip)
    app.router.add_post("/api/recordings/stop", stop_clip)
    app.router.add_delete("/api/recordings/{name}", delete_clip)
    app.router.add_get("/recordings/{name}", get_clip)
