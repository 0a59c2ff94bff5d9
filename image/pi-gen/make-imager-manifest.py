#!/usr/bin/env python3
"""Write a Raspberry Pi Imager manifest (``.rpi-imager-manifest``) for a built image.

Imager 2.x offers its customisation screen (hostname, user, Wi-Fi, SSH) for a local
or downloaded custom image only when a manifest says how the image takes those
settings: ``init_format`` "systemd" (Bookworm: firstrun.sh) or "cloudinit-rpi"
(Trixie: cloud-init files on the boot partition). Open the manifest in Imager
(double-click, or App Options > Content Repository > Use custom file).

    make-imager-manifest.py --image deploy/X-edge-camera.img.xz \
        --init-format cloudinit-rpi [--url https://.../X.img.xz] --output edge-camera.rpi-imager-manifest

Without --url the manifest points at the image file itself (file:// URL), for
flashing from this computer.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import lzma
import sys
from pathlib import Path

INIT_FORMATS = ("systemd", "cloudinit-rpi", "cloudinit")
# Imager's device tags for 64-bit capable boards (the Zero 2 W is tagged as a Pi 3).
DEVICES = ["pi5-64bit", "pi4-64bit", "pi3-64bit"]


def _digest(stream, chunk: int = 1 << 20) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    for block in iter(lambda: stream.read(chunk), b""):
        h.update(block)
        size += len(block)
    return h.hexdigest(), size


def manifest(image: Path, init_format: str, url: str | None, release_date: str) -> dict:
    """The manifest for ``image`` (.img or .img.xz)."""
    if init_format not in INIT_FORMATS:
        raise ValueError(f"init_format must be one of {INIT_FORMATS}")
    with image.open("rb") as f:
        download_sha256, download_size = _digest(f)
    if image.suffix == ".xz":
        with lzma.open(image, "rb") as f:
            extract_sha256, extract_size = _digest(f)
    else:
        extract_sha256, extract_size = download_sha256, download_size
    entry = {
        "name": "Edge camera (Raspberry Pi OS Lite 64-bit)",
        "description": "Live camera and microphone in any browser (WebRTC), recordings on GPIO triggers. "
        "After the first boot open http://<hostname>.local:8080/",
        "icon": "",
        "url": url or image.resolve().as_uri(),
        "extract_size": extract_size,
        "extract_sha256": extract_sha256,
        "image_download_size": download_size,
        "image_download_sha256": download_sha256,
        "release_date": release_date,
        "devices": DEVICES,
        "init_format": init_format,
        "architecture": "armv8",
    }
    return {"os_list": [entry]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", type=Path, required=True)
    parser.add_argument("--init-format", choices=INIT_FORMATS, required=True)
    parser.add_argument("--url", help="where the image will be downloaded from (default: the local file)")
    parser.add_argument("--release-date", default=dt.date.today().isoformat())
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    if not args.output.name.endswith(".rpi-imager-manifest"):
        parser.error("--output must end with .rpi-imager-manifest (Imager opens files by that extension)")
    data = manifest(args.image, args.init_format, args.url, args.release_date)
    args.output.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
