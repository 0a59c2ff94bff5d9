"""``GET /metrics``: the real daemon's figures as Prometheus reads them, and who may read them."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from testbed.clips import CAMERA, wait_finished, wait_for
from testbed.daemon import DaemonProcess
from testbed.whep import whep_viewer

pytestmark = pytest.mark.timeout(120)

METRICS_TOKEN = "prometheus-0123456789abcdef"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def metrics_text(daemon: DaemonProcess) -> str:
    response = daemon.request("GET", "/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return response.text


def parse(text: str) -> Samples:
    """Every sample, by name and labels, as Prometheus' own parser reads them."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(daemon: DaemonProcess) -> Samples:
    return parse(metrics_text(daemon))


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def labelled(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


def test_figures_move_with_the_camera_the_recorder_and_refused_offers(daemon_factory):
    daemon = daemon_factory(CAMERA)
    first = wait_for(lambda: scrape(daemon), lambda s: value(s, "edge_camera_frames_total") > 0, 15, "frames")
    assert value(first, "edge_camera_state", state="running") == 1
    assert value(first, "edge_camera_state", state="restarting") == 0
    assert value(first, "edge_viewers") == 0
    assert value(first, "edge_recording") == 0
    assert value(first, "edge_recording_clips") == 0
    assert value(first, "edge_info", version=daemon.health()["version"], simulated="true") == 1
    assert "process_resident_memory_bytes" in {name for name, _ in first}
    # No RTSP and no MQTT configured: no figures for them.
    assert not {name for name, _ in first} & {"edge_rtsp_clients", "edge_mqtt_connected"}
    frames = value(first, "edge_camera_frames_total")
    wait_for(lambda: scrape(daemon), lambda s: value(s, "edge_camera_frames_total") > frames, 10, "more frames")

    storage = wait_for(lambda: scrape(daemon), lambda s: ("edge_storage_free_bytes", ()) in s, 10, "free space")
    assert value(storage, "edge_storage_free_bytes") > 0 and value(storage, "edge_storage_state", state="ok") == 1

    assert daemon.request("POST", "/api/recordings", json={"seconds": 30}).status_code == 202
    wait_for(lambda: scrape(daemon), lambda s: value(s, "edge_recording") == 1, 10, "the recording gauge")
    daemon.request("POST", "/api/recordings/stop").raise_for_status()
    (clip,) = wait_finished(daemon)
    after = wait_for(lambda: scrape(daemon), lambda s: value(s, "edge_recording_clips") == 1, 10, "one clip")
    assert value(after, "edge_recording") == 0
    assert value(after, "edge_recording_clips_bytes") == clip["size_bytes"]
    assert value(after, "edge_recording_clips_written_total") == 1

    assert labelled(after, "edge_refused_offers_total") == {}
    refused = daemon.request("POST", "/whep", data="v=0\r\n", headers={"Content-Type": "text/plain"})
    assert refused.status_code == 415
    figures = labelled(scrape(daemon), "edge_refused_offers_total")
    assert list(figures.values()) == [1] and len(figures) == 1

    no_token = requests.get(daemon.url + "/metrics", timeout=5)
    assert no_token.status_code == 401
    wrong = requests.get(daemon.url + "/metrics", headers={"Authorization": "Bearer " + METRICS_TOKEN}, timeout=5)
    assert wrong.status_code == 401  # no [metrics] token set: only the access token opens it


def test_a_separate_metrics_token_opens_metrics_only(daemon_factory):
    daemon = daemon_factory(f'[metrics]\ntoken = "{METRICS_TOKEN}"\n')
    prometheus = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    response = requests.get(daemon.url + "/metrics", headers=prometheus, timeout=5)
    assert response.status_code == 200 and "edge_camera_frames_total" in response.text
    for path in ("/api/status", "/api/recordings", "/api/snapshot.jpg"):
        assert requests.get(daemon.url + path, headers=prometheus, timeout=5).status_code == 401, path
    assert requests.post(daemon.url + "/metrics", headers=prometheus, timeout=5).status_code in (401, 405)
    assert daemon.request("GET", "/metrics").status_code == 200  # the access token still opens it
    assert requests.get(daemon.url + "/metrics", timeout=5).status_code == 401


async def watch(daemon: DaemonProcess, seconds_of_rtt: float = 30.0) -> tuple[str, str]:
    """An aiortc WHEP viewer receives video until the daemon reports its round-trip time and REMB; its
    session URL and the last scrape's text."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        async with whep_viewer(http, daemon.url, headers=daemon.auth, timeout=15) as viewer:
            deadline = time.monotonic() + seconds_of_rtt
            while True:  # the RTT needs a sender report answered by a receiver report (about 1 s each way)
                text = await asyncio.to_thread(metrics_text, daemon)
                samples = parse(text)
                known = [
                    labelled(samples, f"edge_viewer_{name}")
                    for name in ("round_trip_time_seconds", "remb_bits_per_second")
                ]
                if (
                    all(any(dict(labels)["kind"] == "video" for labels in k) for k in known)
                    or time.monotonic() > deadline
                ):
                    break
                await asyncio.sleep(0.2)
        return viewer.location, text


async def test_a_viewer_has_its_own_figures_under_a_name_that_is_not_its_session_id(daemon_factory):
    daemon = daemon_factory(CAMERA)
    location, text = await watch(daemon)
    samples = parse(text)
    assert value(samples, "edge_viewers") == 1
    assert value(samples, "edge_viewer_sessions_total") == 1
    sent = labelled(samples, "edge_viewer_sent_bytes_total")
    assert {dict(labels)["kind"] for labels in sent} == {"video", "audio"}
    ((_, viewer_label),) = {labels[1] for labels in sent}
    assert len(viewer_label) == 8
    session_id = location.rsplit("/", 1)[1]
    assert viewer_label not in session_id and session_id[:8] not in text
    assert all(v > 0 for v in sent.values())
    assert value(samples, "edge_viewer_sent_packets_total", viewer=viewer_label, kind="video") > 0
    assert value(samples, "edge_viewer_video_frames_sent_total", viewer=viewer_label) > 0
    assert value(samples, "edge_viewer_connected", viewer=viewer_label) == 1
    assert value(samples, "edge_viewer_ice_restarts_total", viewer=viewer_label) == 0
    for kind in (
        "video",
        "audio",
    ):  # loopback loses nothing, but the counters are there (the lossy-link test moves them)
        assert value(samples, "edge_viewer_nack_requests_total", viewer=viewer_label, kind=kind) >= 0
        assert value(samples, "edge_viewer_retransmitted_packets_total", viewer=viewer_label, kind=kind) >= 0
        assert value(samples, "edge_viewer_retransmitted_bytes_total", viewer=viewer_label, kind=kind) >= 0
        assert value(samples, "edge_viewer_padding_bytes_total", viewer=viewer_label, kind=kind) == 0
        for reason in ("old", "repeat", "budget"):
            assert value(samples, "edge_viewer_nacks_ignored_total", viewer=viewer_label, kind=kind, reason=reason) >= 0
    rtt = value(samples, "edge_viewer_round_trip_time_seconds", viewer=viewer_label, kind="video")
    assert 0 <= rtt < 1  # all on 127.0.0.1
    # aiortc's receiver sends REMB as browsers do, about the video only (its estimate of loopback: megabits).
    assert value(samples, "edge_viewer_remb_bits_per_second", viewer=viewer_label, kind="video") > 100_000
    assert {dict(labels)["kind"] for labels in labelled(samples, "edge_viewer_remb_bits_per_second")} == {"video"}

    gone = wait_for(lambda: scrape(daemon), lambda s: value(s, "edge_viewers") == 0, 10, "the viewer to go")
    assert labelled(gone, "edge_viewer_sent_bytes_total") == {}
    assert value(gone, "edge_viewer_sessions_total") == 1
