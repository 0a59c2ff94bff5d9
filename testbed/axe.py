"""axe-core, Deque's accessibility checker, run inside a Playwright page.

axe-core is an npm package; the tests need only its one browser script, so it is
taken straight from the npm registry's tarball (pinned version, checked against the
registry's sha512 integrity: testbed/npm.py) into the venv by ``make test-deps``:

    .venv/bin/python -m testbed.axe fetch

No npm is needed, so a fresh Debian machine gets it as easily as a CI one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from testbed import npm

VERSION = "4.14.1"
INTEGRITY = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
SCRIPT = Path(os.environ.get("EDGE_AXE_JS", Path(sys.prefix) / "axe-core" / f"axe-{VERSION}.min.js"))

# What the tests hold the page to: every rule axe has for WCAG 2.0-2.2 A and AA, and its best practices.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
BLOCKING = {"serious", "critical"}


def fetch(dest: Path = SCRIPT) -> Path:
    """Download and verify axe.min.js into ``dest`` unless it is there already."""
    if dest.exists():
        return dest
    with npm.tarball("axe-core", VERSION, INTEGRITY) as tar:
        member = tar.extractfile("package/axe.min.js")
        assert member is not None
        script = member.read()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    tmp.write_bytes(script)
    tmp.replace(dest)
    return dest


def violations(page, include: str | None = None) -> list[dict]:
    """axe's serious and critical violations on ``page`` as it is now (optionally only under ``include``)."""
    if not SCRIPT.exists():
        raise AssertionError(f"{SCRIPT} is missing: run `make test-deps` (or `python -m testbed.axe fetch`)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated by the browser's DevTools protocol, which the page's Content-Security-Policy
        # does not govern; a <script> element (add_script_tag) would be refused as inline script.
        page.evaluate(SCRIPT.read_text())
    result = page.evaluate(
        """async ([include, tags]) => {
            const found = await axe.run(include ? {include: [include]} : document,
                                        {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
            return found.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
                                                 nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5)}));
        }""",
        [include, TAGS],
    )
    return [v for v in result if v["impact"] in BLOCKING]


if __name__ == "__main__":
    if sys.argv[1:] != ["fetch"]:
        raise SystemExit("usage: python -m testbed.axe fetch")
    print(fetch())
