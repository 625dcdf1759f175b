"""The documentation as the tests read it: README.md and the pages of docs/.

Tests that pin an example, a table or a command line of the documentation find it here, in
whichever page it lives, so that moving text between pages never silently stops a test.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES: list[Path] = [README, *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^ *```")
_HEADING = re.compile(r"(#{1,6}) (.*)")


def name(page: Path) -> str:
    """The page's path from the checkout's root (`docs/cli.md`)."""
    return page.relative_to(ROOT).as_posix()


def headings(text: str) -> list[tuple[int, int, str]]:
    """(line index, level, text) of every Markdown heading outside code blocks."""
    found, fenced = [], False
    for k, line in enumerate(text.split("\n")):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (m := _HEADING.fullmatch(line)):
            found.append((k, len(m.group(1)), m.group(2)))
    return found


def section(title: str) -> tuple[Path, str]:
    """The page that has the heading `title` (at any level), and the text from that heading
    to the next heading of the same or a higher level; the heading must be in one page only."""
    hits = []
    for page in PAGES:
        text = page.read_text()
        lines = text.split("\n")
        heads = headings(text)
        for k, level, head in heads:
            if head == title:
                end = next((j for j, lv, _ in heads if j > k and lv <= level), len(lines))
                hits.append((page, "\n".join(lines[k:end])))
    assert len(hits) == 1, f"heading {title!r} is in {len(hits)} pages"
    return hits[0]


def code_blocks() -> list[tuple[Path, int, str, str]]:
    """(page, line number of the opening fence, info string, body) of every fenced block of
    every page; an indented block (in a list item) is dedented by its fence's indent."""
    found = []
    for page in PAGES:
        lines = page.read_text().split("\n")
        k = 0
        while k < len(lines):
            m = re.match(r"( *)```(\S*)\s*$", lines[k])
            if m:
                indent, start = len(m.group(1)), k
                k += 1
                body = []
                while not re.match(r" *```\s*$", lines[k]):
                    body.append(lines[k][indent:] if lines[k][:indent].isspace() else lines[k])
                    k += 1
                found.append((page, start + 1, m.group(2), "\n".join(body) + "\n"))
            k += 1
    return found


def slug(title: str, seen: dict[str, int]) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (but `-` and `_`), spaces
    as `-`; a repeated anchor gets `-1`, `-2`, ... (seen counts them, per page)."""
    s = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
    n = seen.get(s, 0)
    seen[s] = n + 1
    return s if n == 0 else f"{s}-{n}"


def anchors(page: Path) -> set[str]:
    """Every anchor a link into page may name."""
    seen: dict[str, int] = {}
    return {slug(head, seen) for _, _, head in headings(page.read_text())}
