"""Every state name has one definition: a StrEnum in the module that owns the state.

A state compared, assigned or reported as a bare string ("running", "off") elsewhere
would drift from its owner's definition unseen (``/metrics`` once listed the camera's
states a second time). This reads the source of ``edge/`` and ``hw/`` and finds string
literals that stand for a known state where a state is compared, assigned, reported
under a ``"state"`` key or passed to a ``..._state(...)`` call.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from enum import StrEnum
from pathlib import Path

import edge
import hw

ROOT = Path(__file__).resolve().parent.parent
# Modules that import GStreamer or picamera2: their enums, if any, are found by the AST scan below.
NOT_IMPORTED = {"edge.rtsp.server", "edge.rtsp.listener", "hw.camera.pi", "hw.camera.picamera2_ext"}
FOREIGN: set[tuple[str, str]] = set()  # (path, state) written as a string on purpose: none today


def state_enums() -> dict[str, type[StrEnum]]:
    enums: dict[str, type[StrEnum]] = {}
    for package in (edge, hw):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if module.name in NOT_IMPORTED or module.name.endswith("__main__"):
                continue
            loaded = importlib.import_module(module.name)
            for name, value in vars(loaded).items():
                if inspect.isclass(value) and issubclass(value, StrEnum) and value.__module__ == module.name:
                    enums[f"{module.name}.{name}"] = value
    return enums


def _stands_for_state(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return "state" in node.id
    if isinstance(node, ast.Attribute):
        return "state" in node.attr
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "state"
    return False


def _strings(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [s for element in node.elts for s in _strings(element)]
    return []


def state_literals(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of every string literal used as a state in ``tree``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_stands_for_state(o) for o in operands):
                found += [(node.lineno, s) for o in operands for s in _strings(o)]
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if node.value is not None and any(_stands_for_state(t) for t in targets):
                found += [(node.lineno, s) for s in _strings(node.value)]
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "state":
                    found += [(node.lineno, s) for s in _strings(value)]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name.endswith("_state"):
                found += [(node.lineno, s) for arg in node.args for s in _strings(arg)]
    return found


def test_every_state_is_a_str_enum_member_and_no_state_is_written_as_a_string():
    enums = state_enums()
    known = {member.value for enum in enums.values() for member in enum}
    # The states the daemon reports: if one of these enums went, the scan below would see less.
    for owner in (
        "edge.media.supervisor.SourceState",
        "edge.recording.recorder.RecorderState",
        "edge.recording.recorder.StorageState",
        "edge.publish.target.PublishState",
        "edge.mqtt.status.MqttState",
        "edge.webrtc.turn_check.TurnState",
        "edge.webrtc.peer_state.PeerConnectionState",
        "edge.webrtc.peer_state.DtlsState",
        "edge.rtsp.status.RtspState",
        "edge.service.OffState",
        "edge.app.Health",
    ):
        assert owner in enums, f"{owner} is gone: where is that state defined now?"
    offences = []
    for path in sorted([*ROOT.joinpath("edge").rglob("*.py"), *ROOT.joinpath("hw").rglob("*.py")]):
        relative = path.relative_to(ROOT).as_posix()
        for line, text in state_literals(ast.parse(path.read_text(), relative)):
            if text in known and (relative, text) not in FOREIGN:
                offences.append(f"{relative}:{line}: {text!r}")
    assert not offences, "state names written as strings (use the owner's StrEnum):\n" + "\n".join(offences)


def test_the_scan_sees_a_state_written_as_a_string():
    source = (
        'if camera["state"] != "running":\n'
        '    self.state = "restarting"\n'
        'status = {"state": "off"}\n'
        'self._set_state("error")\n'
        'ok = supervisor.state in ("starting", "stopped")\n'
    )
    assert sorted(text for _, text in state_literals(ast.parse(source))) == [
        "error",
        "off",
        "restarting",
        "running",
        "starting",
        "stopped",
    ]
