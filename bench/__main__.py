"""Run every benchmark in turn: ``make bench`` or ``python -m bench``."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench

SKIP = {"__main__", "procstat", "charts"}


def main() -> None:
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name not in SKIP)
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "main"):
            continue
        print(f"\n=== bench.{name} ===", flush=True)
        sys.argv = [f"bench.{name}"]
        module.main()


if __name__ == "__main__":
    main()
