"""image/check_whep.py (the viewer `make check-arm64` uses) against the daemon, natively.

Same flow as check-arm64 without emulation, so a change in the daemon that would break
check-arm64 shows up in every `make test`: the daemon and the viewer run in a network
namespace of their own (loopback + a veth pair inside it), nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.image.conftest import IMAGE, LIB, require_root, require_tool

EDGE = Path(sys.executable).with_name("edge")


def test_video_codecs_parser() -> None:
    sys.path.insert(0, str(IMAGE))
    try:
        import check_whep
    finally:
        sys.path.remove(str(IMAGE))
    sdp = (
        "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 102 103\r\na=rtpmap:102 H264/90000\r\na=rtpmap:103 rtx/90000\r\n"
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    )
    assert check_whep.video_codecs(sdp) == ["H264", "rtx"]


@pytest.mark.timeout(180)
def test_whep_check_against_the_native_daemon(tmp_path: Path) -> None:
    require_root()
    require_tool("ip", "unshare", package="iproute2 util-linux")
    if not EDGE.exists() and shutil.which("edge") is None:
        pytest.fail(f"no edge console script next to {sys.executable}: pip install -e .")
    config = tmp_path / "edge.toml"
    token = "whep-check-token-0123456789"
    config.write_text(f'[camera]\nwidth = 320\nheight = 240\nframerate = 15\n\n[auth]\ntoken = "{token}"\n')
    log = tmp_path / "daemon.log"
    ns = f"edge-whep-{uuid.uuid4().hex[:8]}"
    script = f"""
set -euo pipefail
source "{LIB}/chroot.sh"
edge_netns_create {ns}
trap 'if [[ -n "${{pid:-}}" ]]; then edge_kill_group "$pid"; fi; ip netns del {ns}' EXIT
STATE_DIRECTORY="{tmp_path}/state" setsid ip netns exec {ns} "{EDGE}" run --config "{config}" --simulate \\
    --host 127.0.0.1 --port 8080 >"{log}" 2>&1 &
pid=$!
edge_wait_port {ns} 8080 60 "$pid"
ip netns exec {ns} env PYTHONPATH="{IMAGE.parent}" "{sys.executable}" "{IMAGE}/check_whep.py" \\
    --url http://127.0.0.1:8080/whep --token {token} --frames 5 --timeout 60
"""
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=170, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    assert result.returncode == 0, (
        result.stdout + result.stderr + "\n--- daemon log\n" + (log.read_text() if log.exists() else "")
    )
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["ok"] and summary["status"] == 201
    assert "H264" in summary["video_codecs"]
    assert summary["frame_size"] == [320, 240]
    numbers = summary["frame_numbers"]
    assert len(numbers) == 5 and numbers == sorted(set(numbers)), numbers
    assert 200 <= summary["delete_status"] < 300
