"""A deliberately failing test, run by pytest on this interpreter, prints its reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FAILING_TEST = """
import ast

def test_deliberately_failing(monkeypatch):
    def parse(source, *args, **kwargs):  # CPython gh-106905, as 3.11.2 shows it
        raise SystemError("AST constructor recursion depth mismatch (before=78, after=133)")
    monkeypatch.setattr(ast, "parse", parse)
    speed = 3
    assert speed == 4, "the reason a person needs to see"
"""


def run_failing_test(tmp_path, *pytest_args: str) -> subprocess.CompletedProcess:
    """pytest, on this interpreter, on a test that fails while tracebacks cannot be rendered."""
    test_file = tmp_path / "test_failing.py"
    test_file.write_text(FAILING_TEST)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), *pytest_args,
         str(test_file)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_failure_shows_its_reason_when_tracebacks_cannot_be_rendered(tmp_path):
    result = run_failing_test(tmp_path, "-p", "tests.readable_failures")
    assert result.returncode == 1, result.stdout + result.stderr  # failed, not an internal error (3)
    assert "INTERNALERROR" not in result.stdout + result.stderr
    assert "AssertionError: the reason a person needs to see" in result.stdout
    assert "assert 3 == 4" in result.stdout


def test_without_the_plugin_that_failure_is_an_internal_error(tmp_path):
    """The stand-in for the CPython bug is faithful: pytest alone crashes on it."""
    result = run_failing_test(tmp_path, "-p", "no:tests.readable_failures", "-c", "/dev/null")
    assert result.returncode == 3 and "recursion depth mismatch" in result.stdout + result.stderr
