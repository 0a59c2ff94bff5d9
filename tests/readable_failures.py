"""A failing test always shows its reason, even where pytest's traceback rendering crashes.

On CPython 3.11 (Debian 12's 3.11.2, which Raspberry Pi OS Bookworm runs) pytest's
source-aware tracebacks can die in ``ast.parse`` with "SystemError: AST constructor
recursion depth mismatch" (CPython gh-106905), turning a failure into an INTERNALERROR
with no reason. Then, and only then, the report is made again in the ``native`` style,
which does not parse the test's source.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    try:
        return (yield)
    except SystemError as exc:
        if "recursion depth mismatch" not in str(exc):
            raise
        style = item.config.option.tbstyle
        item.config.option.tbstyle = "native"
        try:
            return pytest.TestReport.from_item_and_call(item, call)
        finally:
            item.config.option.tbstyle = style
