"""Which packages may import which, read from the source (``ast``) of every module.

``edge/webrtc`` holds what viewers and publishing share (tracks, payloads, SDP), so it
imports neither ``edge/signaling`` (the HTTP side of WHEP) nor ``edge/publish``;
publishing reaches WebRTC only through ``edge/webrtc``; ``hw/`` never imports ``edge/``
(docs/architecture.md). Every import counts, at module level or inside a function or an
``if TYPE_CHECKING:`` block.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Import:
    path: str  # of the importing file, from the repository's root
    line: int
    statement: str  # as written, e.g. "from edge.signaling.whep import VIEWERS_KEY"
    modules: tuple[str, ...]  # what it may name: "from a import b" names a, and a.b if b is a module

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.statement}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(node: ast.Import | ast.ImportFrom, importer: Path) -> tuple[str, ...]:
    if isinstance(node, ast.Import):
        return tuple(alias.name for alias in node.names)
    base = node.module or ""
    if node.level:
        package = module_name(importer).split(".")
        if importer.name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, *([node.module] if node.module else [])])
    return (base, *(f"{base}.{alias.name}" for alias in node.names))


def imports_in(package: str) -> list[Import]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                found.append(
                    Import(
                        str(path.relative_to(ROOT)),
                        node.lineno,
                        ast.unparse(node),
                        imported_modules(node, path),
                    )
                )
    return found


def reaching(package: str, forbidden: tuple[str, ...]) -> list[str]:
    """The imports in ``package`` (a folder) of any module in the ``forbidden`` packages."""

    def within(module: str, other: str) -> bool:
        return module == other or module.startswith(other + ".")

    return [
        str(found)
        for found in imports_in(package)
        if any(within(module, other) for module in found.modules for other in forbidden)
    ]


def test_webrtc_imports_neither_signaling_nor_publish():
    offending = reaching("edge/webrtc", ("edge.signaling", "edge.publish"))
    assert not offending, "edge/webrtc must not import edge.signaling or edge.publish:\n" + "\n".join(offending)


def test_publish_does_not_import_signaling():
    offending = reaching("edge/publish", ("edge.signaling",))
    assert not offending, "edge/publish must not import edge.signaling (use edge.webrtc):\n" + "\n".join(offending)


def test_hw_does_not_import_edge():
    offending = reaching("hw", ("edge",))
    assert not offending, "hw must not import edge:\n" + "\n".join(offending)
