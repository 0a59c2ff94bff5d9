"""The recordings API in one process: validation, Range requests, nothing outside the directory."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from edge.api import recordings as api
from edge.api import simulation
from edge.config import parse_config
from edge.hardware import Hardware
from edge.recording.recorder import Recorder
from hw.camera import CameraSettings, open_camera
from hw.gpio.zero import GpiozeroGpio
from testbed.media import until
from tests.recording.rig import Rig
from tests.recording.test_triggers import DOOR

pytestmark = pytest.mark.timeout(60)

# A Pi camera opens nothing until it runs; it has no simulation route.
PI_CAMERA = open_camera("picamera2", CameraSettings())


async def client_for(rig: Rig) -> TestClient:
    app = web.Application()
    api.add_routes(app, rig.recorder)
    simulation.add_routes(app, Hardware(PI_CAMERA, None, rig.gpio).simulated_devices)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def test_start_list_download_with_range_and_delete(tmp_path):
    async with Rig(tmp_path / "rec") as rig:
        client = await client_for(rig)
        try:
            assert await (await client.get("/api/recordings")).json() == []
            await rig.camera.run_for(2)
            response = await client.post("/api/recordings", json={"seconds": 1})
            assert response.status == 202
            name = (await response.json())["clip"]
            assert (await client.delete(f"/api/recordings/{name}")).status == 409  # still being written
            await rig.camera.run_for(2)
            await rig.finished_clips()
            (listed,) = await (await client.get("/api/recordings")).json()
            assert listed["name"] == name and listed["url"] == f"/recordings/{name}" and listed["complete"]
            assert listed["trigger"] == "manual" and listed["duration_s"] > 1.5 and listed["size_bytes"] > 0
            assert listed["started_at"][:2] == "20" and listed["has_audio"]

            whole = await client.get(listed["url"])
            assert whole.status == 200 and whole.content_type == "video/mp4"
            body = await whole.read()
            assert len(body) == listed["size_bytes"] and body[4:8] == b"ftyp"
            part = await client.get(listed["url"], headers={"Range": "bytes=4-11"})
            assert part.status == 206 and await part.read() == body[4:12]
            assert part.headers["Content-Range"] == f"bytes 4-11/{len(body)}"

            assert (await client.delete(f"/api/recordings/{name}")).status == 204
            assert await (await client.get("/api/recordings")).json() == []
            assert sorted(p.name for p in (tmp_path / "rec").iterdir()) == []
            assert (await client.get(listed["url"])).status == 404
        finally:
            await client.close()


@pytest.mark.parametrize(
    "path",
    [
        "/recordings/..%2F..%2Fetc%2Fpasswd",
        "/recordings/%2Fetc%2Fpasswd",
        "/recordings/20260101-000000_door.mp4",  # well-formed, but no such clip
        "/recordings/20260101-000000_stray.mp4",  # a file in the directory the index does not know
        "/recordings/secret.txt",
    ],
)
async def test_nothing_but_known_clips_is_served_or_deleted(tmp_path, path):
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "20260101-000000_stray.mp4").write_bytes(b"not a clip the daemon wrote")
    (tmp_path / "secret.txt").write_text("secret")
    async with Rig(tmp_path / "rec") as rig:
        client = await client_for(rig)
        try:
            assert (await client.get(path)).status == 404
            assert (await client.delete(path.replace("/recordings/", "/api/recordings/"))).status in (404, 405)
        finally:
            await client.close()
    assert (tmp_path / "secret.txt").exists() and (tmp_path / "rec" / "20260101-000000_stray.mp4").exists()


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"nope", "body must be JSON"),
        (b"[1]", "body must be a JSON object"),
        (b'{"seconds": -1}', "seconds must be a number above 0"),
        (b'{"seconds": "5"}', "seconds must be a number above 0"),
        (b'{"seconds": 100000}', "at most 600"),
    ],
)
async def test_bad_requests_get_a_one_line_reason(tmp_path, body, reason):
    async with Rig(tmp_path) as rig:
        client = await client_for(rig)
        try:
            response = await client.post("/api/recordings", data=body)
            assert response.status == 400 and reason in await response.text()
            assert (await response.text()).count("\n") == 1
        finally:
            await client.close()


async def test_stop_and_simulated_gpio(tmp_path):
    async with Rig(tmp_path, triggers=[{**DOOR, "mode": "hold"}]) as rig:
        client = await client_for(rig)
        try:
            await rig.camera.run_for(2)
            response = await client.post("/api/sim/gpio/17", json={"active": True})
            assert response.status == 200 and (await response.json())["active"] is True
            await until(lambda: rig.recorder.recording)
            await rig.camera.run_for(0.5)
            assert (await client.post("/api/sim/gpio/5", json={"active": True})).status == 404
            assert (await client.post("/api/sim/gpio/x", json={"active": True})).status == 400
            assert (await client.post("/api/sim/gpio/17", json={"on": 1})).status == 400
            stopped = await (await client.post("/api/recordings/stop")).json()
            assert stopped["stopped"] == rig.recorder.library.clips()[0].name
            assert not rig.recorder.recording
            assert (await (await client.post("/api/recordings/stop")).json())["stopped"] is None
            (clip,) = await rig.finished_clips()
            assert clip.ended_by == "stopped"
        finally:
            await client.close()


async def test_no_simulation_route_on_real_hardware(tmp_path):
    config = parse_config({})
    rig = Rig(tmp_path)
    recorder = Recorder(rig.camera.video, None, config.recording, tmp_path)
    app = web.Application()
    api.add_routes(app, recorder)
    simulation.add_routes(app, Hardware(PI_CAMERA, None, GpiozeroGpio()).simulated_devices)
    async with TestClient(TestServer(app)) as client:
        assert (await client.post("/api/sim/gpio/17", json={"active": True})).status in (404, 405)
        assert (await client.post("/api/sim/camera/fault", json={"kind": "crash"})).status in (404, 405)
        assert (await client.get("/api/recordings")).status == 200
