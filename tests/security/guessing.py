"""Clients trying tokens at the same moment, each from a source address of its own.

Used by the tests in this directory, and run as ``python -m tests.security.guessing``
inside a network namespace (JSON in on the command line, JSON out on stdout) where the
test itself cannot open sockets.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit


@dataclass
class Answer:
    source: str
    status: int
    retry_after: str | None
    sent: float  # time.monotonic()
    answered: float

    @property
    def seconds(self) -> float:
        return self.answered - self.sent


def try_tokens(url: str, sources: list[str], token: str, path: str = "/api/session") -> list[Answer]:
    """One ``Authorization: Bearer <token>`` request per entry of ``sources`` (a source may
    come more than once), all connected first and then sent together."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None, url
    ready = threading.Barrier(len(sources))

    def attempt(source: str) -> Answer:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60, source_address=(source, 0))
        try:
            connection.connect()
            ready.wait(timeout=60)
            sent = time.monotonic()
            connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            response = connection.getresponse()
            response.read()
            return Answer(source, response.status, response.getheader("Retry-After"), sent, time.monotonic())
        finally:
            connection.close()

    with ThreadPoolExecutor(len(sources)) as pool:
        return list(pool.map(attempt, sources))


def span(answers: list[Answer]) -> float:
    """Seconds from the first request sent to the last answer."""
    return max(a.answered for a in answers) - min(a.sent for a in answers)


if __name__ == "__main__":
    url, sources, token = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    json.dump([asdict(answer) for answer in try_tokens(url, sources, token)], sys.stdout)
