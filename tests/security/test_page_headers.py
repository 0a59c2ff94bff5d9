"""The page's security headers, and the page working under them in Chromium and Firefox.

The policy allows only the daemon's own scripts, styles, pictures, clips and requests; a
violation would show as a broken page in some browser one day, so each browser plays live,
records, plays a clip and deletes one while every violation it reports is collected.
"""

from __future__ import annotations

import pytest
import requests

from testbed.clips import CAMERA, clips, wait_buffered, wait_finished, wait_for
from testbed.firefox import FirefoxPage, firefox
from tests.test_browser_live import wait_live
from tests.test_firefox import wait_live as firefox_wait_live

CONFIG = CAMERA + '[recording]\npre_seconds = 1\npost_seconds = 1\n[[triggers]]\nname = "doorbell"\npin = 17\n'

# Before any of the page's own scripts: every violation the document reports.
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.effectiveDirective} blocked ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`);
});
"""


# An inline script, as an injection would add one; returns what it set (null when it did not run).
INJECT_INLINE_SCRIPT = """(() => {
  const script = document.createElement('script');
  script.textContent = 'window.__inlineRan = true;';
  document.head.append(script);
  return window.__inlineRan ?? null;
})()"""


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for directive in policy.split(";"):
        name, *values = directive.split()
        parsed[name] = values
    return parsed


def test_the_page_and_every_response_carry_the_security_headers(daemon_factory):
    daemon = daemon_factory(CAMERA)
    page = requests.get(daemon.url + "/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    policy = directives(page.headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval
    assert policy["style-src"] == ["'self'"]  # no inline style
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"]
    responses = {
        "the page": page,
        "a script": requests.get(daemon.url + "/static/viewer.js"),
        "/healthz": requests.get(daemon.url + "/healthz"),
        "a 401": requests.get(daemon.url + "/api/status"),
        "a 404": requests.get(daemon.url + "/no/such/thing"),
        "the snapshot": daemon.request("GET", "/api/snapshot.jpg"),
    }
    for what, response in responses.items():
        assert response.headers.get("X-Content-Type-Options") == "nosniff", what
        assert response.headers.get("Referrer-Policy") == "no-referrer", what  # the login URL carries the token
        assert response.headers.get("X-Frame-Options") == "DENY", what


def test_the_page_works_under_its_policy_in_chromium(chromium, daemon_factory):
    daemon = daemon_factory(CONFIG)
    context = chromium.new_context()
    context.add_init_script(COLLECT_VIOLATIONS)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    referers: list[tuple[str, str | None]] = []
    page.on("request", lambda request: referers.append((request.url, request.headers.get("referer"))))

    page.goto(daemon.page_url)  # /?token=...
    wait_live(page)
    page.wait_for_function("() => window.edgeRecordings && window.edgeRecordings.gpio")
    page.click("#recordings-toggle")
    wait_buffered(daemon, 1)
    page.click("#rec-record")  # the page's POST /api/recordings
    page.wait_for_selector("#rec-record[data-recording='true']")
    page.click("#rec-record")  # Stop: POST /api/recordings/stop
    wait_finished(daemon, 1)
    page.hover("#rec-inputs [data-pin='17']")  # the simulated doorbell: POST /api/sim/gpio/17, held, then let go
    page.mouse.down()
    wait_for(daemon.health, lambda h: h["recording"]["state"] == "recording", 10, "the page's doorbell")
    page.mouse.up()
    made = wait_finished(daemon, 2)
    assert sorted(c["trigger"] for c in made) == ["doorbell", "manual"]

    page.wait_for_function(
        "() => [...document.querySelectorAll('#rec-list li img')].filter((i) => i.complete && i.naturalWidth).length"
        " === 2"
    )  # the posters
    page.click("#rec-list li .rec-play")
    page.wait_for_function(
        "() => (v => v && v.readyState >= 2 && v.currentTime > 0.2)(document.querySelector('#rec-player video'))"
    )
    page.keyboard.press("l")  # back to live
    page.keyboard.press("s")  # the statistics
    page.wait_for_selector("#stats:not([hidden])")
    page.click("#rec-list li .rec-delete")  # DELETE, after the undo time
    wait_for(lambda: clips(daemon), lambda c: len(c) == 1, 20, "the page's deletion")

    violations = page.evaluate("window.__cspViolations")
    reported = [text for text in console if "Content Security Policy" in text or "Refused to" in text]
    assert violations == [] and reported == [], f"violations: {violations}; console: {reported}"
    # An injected inline script does not run, and is reported: the policy is in force, and seen here.
    assert page.evaluate(INJECT_INLINE_SCRIPT) is None
    page.wait_for_function("() => window.__cspViolations.length > 0")
    (violation,) = page.evaluate("window.__cspViolations")
    assert violation.startswith("script-src-elem blocked inline"), violation
    with_referer = [f"{url}: {referer}" for url, referer in referers if referer]
    assert with_referer == [], f"requests that told where they came from (the token): {with_referer}"

    # Another site cannot show the page in a frame (clickjacking).
    framing = context.new_page()
    framing.set_content(f'<iframe src="{daemon.page_url}"></iframe>')
    framing.wait_for_load_state("load")
    framed = framing.frames[1]
    assert framed.url.startswith("chrome-error://"), f"the page loaded in another site's frame: {framed.url}"


def firefox_csp_messages(page: FirefoxPage) -> list[str]:
    """Everything Firefox's console has about Content Security Policy (from the document's start)."""
    marionette = page.marionette
    with marionette.using_context(marionette.CONTEXT_CHROME):
        return marionette.execute_script(
            "return Services.console.getMessageArray().map(String)"
            ".filter((m) => m.includes('Content-Security-Policy') || m.includes('Content Security Policy'));"
        )


@pytest.mark.browser
@pytest.mark.timeout(240)
def test_the_page_works_under_its_policy_in_firefox(daemon_factory):
    daemon = daemon_factory(CONFIG)
    with firefox(mdns=False) as page:  # loopback candidates: see tests/test_firefox.py
        page.goto(daemon.page_url)
        firefox_wait_live(page)
        page.wait_for("window.edgeRecordings && window.edgeRecordings.gpio", 20, what="the recordings panel")
        page.click("#recordings-toggle")
        wait_buffered(daemon, 1)
        page.click("#rec-record")
        page.wait_for("document.querySelector('#rec-record').dataset.recording === 'true'", 10, what="Record")
        page.click("#rec-record")
        (clip,) = wait_finished(daemon, 1)
        assert clip["trigger"] == "manual"
        page.wait_for("document.querySelector('#rec-list li img')?.naturalWidth > 0", 20, what="the poster")
        page.click("#rec-list li .rec-play")
        page.wait_for(
            "(v => v && v.readyState >= 2 && v.currentTime > 0.2)(document.querySelector('#rec-player video'))",
            20,
            what="the clip to play",
        )
        page.click("#rec-list li .rec-delete")
        wait_for(lambda: clips(daemon), lambda c: c == [], 20, "the page's deletion")
        page.marionette.execute_script(COLLECT_VIOLATIONS, sandbox=None)
        messages = firefox_csp_messages(page)
        assert messages == [], "\n".join(messages)
        # An injected inline script does not run, and is reported: the policy is in force, and seen here.
        assert page.evaluate(INJECT_INLINE_SCRIPT) is None
        page.wait_for("window.__cspViolations.length > 0", 5, what="the violation event")
        messages = firefox_csp_messages(page)
        assert len(messages) == 1 and "inline script" in messages[0], "\n".join(messages)
