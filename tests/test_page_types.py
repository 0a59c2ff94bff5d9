"""Every script of the page is type-checked by ``make lint`` (tsc, tsconfig.json): each says so at its top."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).parents[1]
STATIC = ROOT / "edge" / "web" / "static"


def test_every_page_script_starts_with_ts_check():
    scripts = sorted(STATIC.glob("*.js"))
    assert scripts, f"no scripts in {STATIC}"
    unchecked = [path.name for path in scripts if path.read_text().splitlines()[:1] != ["// @ts-check"]]
    assert unchecked == [], f"these do not start with `// @ts-check`, so tsc does not check them: {unchecked}"


def test_tsc_is_given_every_page_script_and_the_status_types():
    config = json.loads((ROOT / "tsconfig.json").read_text())
    assert config["include"] == ["edge/web/static/*.js", "edge/web/types/*.d.ts"]
    assert config["compilerOptions"]["checkJs"] is True and config["compilerOptions"]["strict"] is True
