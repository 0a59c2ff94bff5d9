"""The page's files, served from memory with an ETag (edge/web/routes.py)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from edge.web import routes


async def client() -> TestClient:
    app = web.Application()
    routes.add_routes(app, public_status=dict, full_status=dict)
    test_client = TestClient(TestServer(app))
    await test_client.start_server()
    return test_client


async def test_the_page_and_its_scripts_are_served_and_revalidated_with_their_etag():
    c = await client()
    try:
        page = await c.get("/")
        assert page.status == 200 and page.content_type == "text/html"
        assert 'src="static/early.js"' in await page.text()
        script = await c.get("/static/early.js")
        assert script.status == 200 and script.content_type in ("text/javascript", "application/javascript")
        assert (await script.read()) == (routes.STATIC_DIR / "early.js").read_bytes()
        etag = script.headers["ETag"]
        assert script.headers["Cache-Control"] == "no-cache"  # always asked again, cheaply
        again = await c.get("/static/early.js", headers={"If-None-Match": etag})
        assert again.status == 304 and again.headers["ETag"] == etag and not await again.read()
        changed = await c.get("/static/early.js", headers={"If-None-Match": '"something else"'})
        assert changed.status == 200
    finally:
        await c.close()


async def test_an_unknown_file_is_a_404_with_a_reason():
    c = await client()
    try:
        for path in ("/static/nothing.js", "/static/..%2Fpyproject.toml", "/static/"):
            response = await c.get(path)
            assert response.status == 404, path
    finally:
        await c.close()
