"""Guessing the token is slow from any number of addresses, and never locks the right token out.

The figures docs/security.md gives: 5 wrong tokens a minute per address (an IPv6 /64) and 30
from all addresses together are checked at once; after that, tokens are checked at
their turn, at most one a second per address and two a second in all, booked at most
1.5 s ahead; one whose turn would come later gets 429 unchecked.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from testbed.daemon import TEST_TOKEN, DaemonProcess
from tests.security.guessing import Answer, span, try_tokens
from tests.test_browser_live import CAMERA_SMALL

ROOT = Path(__file__).parents[2]
WRONG = "not-the-token-at-all-0000"
METRICS_TOKEN = "prometheus-0123456789abcdef"
BUDGET = 30  # wrong tokens from everywhere a minute, checked at once
ALLOWANCE = 5  # the same per address
HORIZON_S = 1.5  # turns are booked at most this far ahead
GLOBAL_INTERVAL_S = 0.5
SOURCE_INTERVAL_S = 1.0


def checked(answers: list[Answer]) -> int:
    """Tokens the daemon checked (a 401); the rest were refused unchecked (429)."""
    statuses = {a.status for a in answers}
    assert statuses <= {401, 429}, statuses
    assert all(int(a.retry_after or 0) >= 1 for a in answers if a.status == 429), "a 429 without Retry-After"
    return sum(a.status == 401 for a in answers)


def turns(seconds: float, interval: float) -> int:
    """At most how many turns fit, ``interval`` apart, in requests sent over ``seconds`` (each booked ≤ 1.5 s ahead)."""
    return int((seconds + HORIZON_S) / interval) + 1


def right_token_from(daemon: DaemonProcess, source: str, url: str | None = None) -> Answer:
    (answer,) = try_tokens(url or daemon.url, [source], TEST_TOKEN)
    return answer


def test_guessing_from_50_addresses_slows_all_of_them_and_the_right_token_still_gets_in(daemon_factory):
    daemon = daemon_factory(CAMERA_SMALL)
    addresses = [f"127.0.0.{n}" for n in range(10, 60)]
    flood = try_tokens(daemon.url, addresses * 4, WRONG)  # 200 wrong guesses, 4 per address, at once
    # No address reached its own limit; the global budget slows them all.
    assert checked(flood) <= BUDGET + turns(span(flood), GLOBAL_INTERVAL_S), f"{checked(flood)} of 200 checked"
    again = try_tokens(daemon.url, addresses, WRONG)  # one more from each: the budget is spent
    assert checked(again) <= turns(span(again), GLOBAL_INTERVAL_S), f"{checked(again)} of 50 checked"
    refused = next(a.source for a in again if a.status == 429)
    # The right token, from any of them (one refused a moment ago too), is checked at its turn.
    for source in (addresses[0], addresses[24], addresses[-1], refused):
        answer = right_token_from(daemon, source)
        assert answer.status == 200 and answer.seconds < 2.0, f"{source}: {answer}"
    login = requests.post(daemon.url + "/auth/login", json={"token": TEST_TOKEN}, headers={"Origin": daemon.url})
    assert login.status_code == 204 and login.elapsed.total_seconds() < 2.0, login


def test_an_address_over_its_own_limit_still_gets_in_with_the_right_token(daemon_factory):
    daemon = daemon_factory(CAMERA_SMALL + f'[metrics]\ntoken = "{METRICS_TOKEN}"\n')
    guesser = "127.0.0.70"  # a NAT, a reverse proxy: the owner may be behind the same address
    burst = try_tokens(daemon.url, [guesser] * 12, WRONG)
    assert checked(burst) <= ALLOWANCE + turns(span(burst), SOURCE_INTERVAL_S), f"{checked(burst)} of 12 checked"
    answer = right_token_from(daemon, guesser)
    assert answer.status == 200 and answer.seconds < 2.0, answer
    (scrape,) = try_tokens(daemon.url, [guesser], METRICS_TOKEN, path="/metrics")  # Prometheus, same address
    assert scrape.status == 200 and scrape.seconds < 2.0, scrape
    # Counted per address: another one is not slowed (the global budget is not spent).
    neighbour = try_tokens(daemon.url, ["127.0.0.71"] * 3, WRONG)
    assert [a.status for a in neighbour] == [401] * 3


@pytest.mark.root
def test_an_ipv6_64_counts_as_one_address(daemon_factory):
    """In a network namespace of its own: addresses of two /64s on its loopback."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.fail("this test needs root and iproute2 (a network namespace): run make test as root, as CI does")
    namespace = f"edge6{secrets.token_hex(3)}"
    guessers = [f"2001:db8:1::{n:x}" for n in range(0xA0, 0xAA)]  # ten addresses, one /64
    other = "2001:db8:2::1"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    daemon: DaemonProcess | None = None
    try:
        subprocess.run(["ip", "-n", namespace, "link", "set", "lo", "up"], check=True)
        for address in [*guessers, other]:
            subprocess.run(["ip", "-n", namespace, "addr", "add", f"{address}/64", "dev", "lo", "nodad"], check=True)
        daemon = daemon_factory(CAMERA_SMALL, prefix=("ip", "netns", "exec", namespace), host="::")
        url = f"http://[{other}]:{daemon.port}"

        def in_namespace(sources: list[str], token: str) -> list[Answer]:
            command = ["ip", "netns", "exec", namespace, sys.executable, "-m", "tests.security.guessing"]
            result = subprocess.run(
                [*command, url, json.dumps(sources), token], cwd=ROOT, capture_output=True, text=True, timeout=60
            )
            assert result.returncode == 0, result.stderr
            return [Answer(**answer) for answer in json.loads(result.stdout)]

        burst = in_namespace(guessers * 2, WRONG)  # 2 each from ten addresses of one /64
        assert checked(burst) <= ALLOWANCE + turns(span(burst), SOURCE_INTERVAL_S), f"{checked(burst)} of 20 checked"
        assert [a.status for a in in_namespace([other] * 3, WRONG)] == [401] * 3  # another /64: not slowed
        (answer,) = in_namespace([guessers[5]], TEST_TOKEN)
        assert answer.status == 200 and answer.seconds < 2.0, answer
    finally:
        if daemon is not None:
            daemon.stop()
        subprocess.run(["ip", "netns", "delete", namespace], check=False)


def test_a_client_that_gave_the_right_token_is_not_held_up_by_others_guessing(daemon_factory):
    """Home Assistant fetching the snapshot, Prometheus scraping: once they have given the right token, 50
    addresses guessing (the global budget spent) do not make them wait or refuse them."""
    daemon = daemon_factory(CAMERA_SMALL)
    client = "127.0.0.90"
    assert right_token_from(daemon, client).status == 200
    addresses = [f"127.0.0.{n}" for n in range(10, 60)]
    try_tokens(daemon.url, addresses * 4, WRONG)  # the budget is spent
    with ThreadPoolExecutor(2) as pool:
        guessing = pool.submit(try_tokens, daemon.url, addresses * 4, WRONG)
        served = pool.submit(try_tokens, daemon.url, [client] * 5, TEST_TOKEN)
        assert checked(guessing.result()) < 200, "the guessers are still slowed"
    assert [answer.status for answer in served.result()] == [200] * 5
    assert max(answer.seconds for answer in served.result()) < 1.0
