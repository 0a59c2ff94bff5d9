"""The configurations in docs/examples, filled in by the rigs that run them (nginx, Caddy, coturn), so that
the documented configuration is the one the tests run."""

from __future__ import annotations

import re
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
PLACEHOLDER = re.compile(r"@[A-Z_]+@")


def fill(template: Path, values: dict[str, str]) -> str:
    """The example with every ``@NAME@`` replaced; one left unfilled (the example changed) is an error."""
    text = template.read_text()
    for name, value in values.items():
        if f"@{name}@" not in text:
            raise ValueError(f"{template.name} has no @{name}@ any more")
        text = text.replace(f"@{name}@", value)
    if left := PLACEHOLDER.findall(text):
        raise ValueError(f"{template.name}: the rig does not fill {sorted(set(left))}")
    return text
