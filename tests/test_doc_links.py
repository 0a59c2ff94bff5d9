"""Every relative link in the README, CONTRIBUTING and docs/ points at a file that exists and, where it
names an #anchor in a Markdown file, at a heading there (GitHub's anchors). No daemon, no browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^ *```.*?^ *```", re.M | re.S)
CODE_SPAN = re.compile(r"`[^`\n]*`")
MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HTML_LINK = re.compile(r"""\b(?:src|href)=["']([^"']+)["']""")
HEADING = re.compile(r"^#{1,6} +(.+?) *#* *$", re.M)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # http:, https:, mailto:


def prose(text: str) -> str:
    """The page without its fenced code blocks, where nothing is a link or a heading."""
    return FENCE.sub("", text)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: its text, lower case, without punctuation, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's anchor, the second of two alike with -1, the third with -2, as GitHub numbers them."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(prose(page.read_text())):
        anchor = github_anchor(heading)
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        found.add(f"{anchor}-{count}" if count else anchor)
    return found


def relative_links(page: Path) -> list[str]:
    text = CODE_SPAN.sub("", prose(page.read_text()))
    links = MARKDOWN_LINK.findall(text) + HTML_LINK.findall(text)
    return [link for link in links if not EXTERNAL.match(link)]


def test_github_anchor_follows_githubs_rules() -> None:
    assert github_anchor("On a Pi: `edge doctor`") == "on-a-pi-edge-doctor"
    assert github_anchor("edge — a Raspberry Pi camera") == "edge--a-raspberry-pi-camera"
    assert github_anchor("[[publish]]") == "publish"
    assert github_anchor("What `install.sh` does") == "what-installsh-does"
    assert github_anchor("RTSP (NVRs, Home Assistant, VLC)") == "rtsp-nvrs-home-assistant-vlc"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_relative_link_points_at_a_file_and_heading(page: Path) -> None:
    broken = []
    for link in relative_links(page):
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target):
            broken.append(f"{link}: no such heading in {target.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)
