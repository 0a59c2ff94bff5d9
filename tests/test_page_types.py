"""The page's scripts are type-checked by ``make lint`` (tsc, tsconfig.json), against types that follow the daemon's."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.test_states import state_enums

ROOT = Path(__file__).parents[1]
STATIC = ROOT / "edge" / "web" / "static"
STATUS_TYPES = ROOT / "edge" / "web" / "types" / "status.d.ts"
# `export type Name = 'a' | 'b';`, over one line or several: a union of string literals and nothing else.
_LITERAL_UNION = re.compile(r"^export type (\w+) =((?:\s*\|?\s*'[^'\n]*')+)\s*;", re.M)


def literal_unions(types: str) -> dict[str, set[str]]:
    """Each named union of string literals in a .d.ts: its name and its strings."""
    return {name: set(re.findall(r"'([^'\n]*)'", body)) for name, body in _LITERAL_UNION.findall(types)}


def test_every_page_script_starts_with_ts_check():
    scripts = sorted(STATIC.glob("*.js"))
    assert scripts, f"no scripts in {STATIC}"
    unchecked = [path.name for path in scripts if path.read_text().splitlines()[:1] != ["// @ts-check"]]
    assert unchecked == [], f"these do not start with `// @ts-check`, so tsc does not check them: {unchecked}"


def test_tsc_is_given_every_page_script_and_the_status_types():
    config = json.loads((ROOT / "tsconfig.json").read_text())
    assert config["include"] == ["edge/web/static/*.js", "edge/web/types/*.d.ts"]
    assert config["compilerOptions"]["checkJs"] is True and config["compilerOptions"]["strict"] is True


def test_literal_unions_are_read_as_written():
    types = "export type One = 'a';\nexport type Many =\n  | 'b c'\n  | 'd';\nexport type Mixed = 'e' | number;\n"
    assert literal_unions(types) == {"One": {"a"}, "Many": {"b c", "d"}}


def test_the_page_knows_every_state_of_the_daemon():
    """Each state union in status.d.ts has the values of the Python StrEnum of the same name: a state added on
    either side fails here until the other knows it (and tsc then checks the page's comparisons against it)."""
    enums = {qualified.rsplit(".", 1)[1]: enum for qualified, enum in state_enums().items()}
    unions = literal_unions(STATUS_TYPES.read_text())
    assert {"Health", "SourceState", "RecorderState", "StorageState", "PublishState"} <= unions.keys()
    unknown = sorted(unions.keys() - enums.keys())
    assert unknown == [], f"{STATUS_TYPES.name} has unions that are no Python StrEnum: {unknown}"
    differing = {}
    for name, on_page in unions.items():
        in_python = {member.value for member in enums[name]}
        if on_page != in_python:
            differing[name] = {"page only": sorted(on_page - in_python), "Python only": sorted(in_python - on_page)}
    assert differing == {}, f"{STATUS_TYPES.relative_to(ROOT)} and the Python enums differ: {differing}"
