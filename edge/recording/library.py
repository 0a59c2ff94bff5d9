"""The clips on disk and what we know about them, without re-reading any video.

Each ``<name>.mp4`` has a ``<name>.json`` sidecar (trigger, start, duration,
size, how it ended), written when the clip starts and again when it ends. At
start-up a clip whose sidecar still says it is being written was cut off (power
cut, ``kill -9``): its torn tail is trimmed, it is measured once, and its
sidecar completed. The index lives in memory; every method that touches the
disk is blocking and meant for a worker thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av

from edge.files import write_atomic
from edge.media.snapshot import jpeg_of_frame
from edge.recording.mp4 import CLIP_FILE_MODE, probe, truncate_incomplete

log = logging.getLogger(__name__)

# <local start time>_<trigger>[-n].mp4: the only names ever served or deleted.
NAME_RE = re.compile(r"[0-9]{8}-[0-9]{6}_[A-Za-z0-9_-]{1,48}\.mp4")
INTERRUPTED = "interrupted (the daemon stopped without closing it)"
POSTER_WIDTH = 640  # pixels: enough for a list on any screen, a few tens of kB


@dataclass
class ClipInfo:
    name: str
    trigger: str
    started_at: float  # Unix time of the first frame
    triggers: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    size_bytes: int = 0
    frames: int = 0
    has_audio: bool = False
    complete: bool = False  # False while being written
    ended_by: str | None = None
    poster: bool = False  # a JPEG of its first picture beside it (<stem>.jpg)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClipInfo:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def valid_name(name: str) -> bool:
    return NAME_RE.fullmatch(name) is not None


class Library:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._clips: dict[str, ClipInfo] = {}

    # --- the index (event loop) ---------------------------------------------------

    def clips(self) -> list[ClipInfo]:
        """Newest first."""
        return sorted(self._clips.values(), key=lambda c: c.started_at, reverse=True)

    def get(self, name: str) -> ClipInfo | None:
        return self._clips.get(name) if valid_name(name) else None

    def add(self, info: ClipInfo) -> None:
        self._clips[info.name] = info

    def forget(self, name: str) -> None:
        self._clips.pop(name, None)

    def new_clip(self, trigger: str, started_at: float) -> ClipInfo:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started_at))
        name, n = f"{stamp}_{trigger}.mp4", 1
        while name in self._clips:
            n += 1
            name = f"{stamp}_{trigger}-{n}.mp4"
        info = ClipInfo(name=name, trigger=trigger, started_at=started_at, triggers=[trigger])
        self._clips[name] = info
        return info

    def path(self, name: str) -> Path:
        if not valid_name(name):
            raise ValueError(f"not a clip name: {name!r}")
        return self.root / name

    @property
    def total_bytes(self) -> int:
        return sum(c.size_bytes for c in self._clips.values())

    # --- the disk (worker threads) -----------------------------------------------------

    def scan(self) -> list[ClipInfo]:
        """Read every sidecar; recover clips that were cut off. Creates the directory."""
        self.root.mkdir(parents=True, exist_ok=True)
        found = []
        for pattern in (".*.json.*", "*.json.tmp"):  # write_atomic's temporary files (and older versions')
            for leftover in self.root.glob(pattern):
                leftover.unlink(missing_ok=True)
        for path in sorted(self.root.glob("*.mp4")):
            if not valid_name(path.name):
                continue
            try:
                found.append(self._load(path))
            except (OSError, ValueError, av.FFmpegError, IndexError) as exc:
                log.warning("recordings: skipping %s: %s", path.name, exc)
        for pattern in ("*.json", "*.jpg"):  # a sidecar or poster whose clip is gone
            for leftover in self.root.glob(pattern):
                if not leftover.with_suffix(".mp4").exists():
                    leftover.unlink(missing_ok=True)
        return found

    def _load(self, path: Path) -> ClipInfo:
        sidecar = path.with_suffix(".json")
        try:
            info = ClipInfo.from_json(json.loads(sidecar.read_text()))
        except (OSError, ValueError, TypeError):
            trigger = path.stem.split("_", 1)[1]
            info = ClipInfo(name=path.name, trigger=trigger, started_at=path.stat().st_mtime, triggers=[trigger])
        if info.complete and info.name == path.name:
            return info
        with path.open("rb") as f:
            if f.read(8)[4:] != b"ftyp":
                raise ValueError("not an MP4 file; left alone")
        log.info("recordings: %s was cut off; recovering what reached the disk", path.name)
        info.name = path.name
        info.size_bytes = truncate_incomplete(path)
        info.duration_s, info.frames, info.has_audio = probe(path) if info.size_bytes else (0.0, 0, False)
        if not info.frames:
            self.delete_files(path.name)
            raise ValueError("not a single complete fragment; deleted")
        info.complete = True
        info.ended_by = INTERRUPTED
        self.save(info)
        return info

    def save(self, info: ClipInfo) -> None:
        """Write the sidecar atomically (a crash leaves the old one or the new one)."""
        sidecar = self.root / (info.name.removesuffix(".mp4") + ".json")
        write_atomic(sidecar, json.dumps(info.to_json()), mode=CLIP_FILE_MODE)

    def poster_path(self, name: str) -> Path:
        return self.path(name).with_suffix(".jpg")

    def make_poster(self, name: str) -> None:
        """A JPEG of the clip's first picture (an IDR), beside it."""
        with av.open(str(self.path(name))) as container:
            frame = next(container.decode(video=0))
        write_atomic(self.poster_path(name), jpeg_of_frame(frame, POSTER_WIDTH), mode=CLIP_FILE_MODE)

    def delete_files(self, name: str) -> None:
        path = self.path(name)
        path.unlink(missing_ok=True)
        path.with_suffix(".json").unlink(missing_ok=True)
        path.with_suffix(".jpg").unlink(missing_ok=True)
