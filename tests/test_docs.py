"""The documentation as a person navigates it: README.md (the pitch, the two commands of a fresh
machine, a tour, links) and the reference in docs/, each page with its table of contents, every
relative link and anchor resolving, and no example silently dropped from the tests."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

import docpages

PAGES = docpages.PAGES
DOCS = [p for p in PAGES if p != docpages.README and p.name != "README.md"]

# markdown links and images: [text](target) and ![alt](target), outside code spans and blocks
_LINK = re.compile(r"!?\[[^\]]*\]\(([^()\s]+)\)")


def _prose(text: str) -> str:
    """text without its fenced blocks and code spans (where brackets are not links)."""
    out, fenced = [], False
    for line in text.split("\n"):
        if re.match(r" *```", line):
            fenced = not fenced
            continue
        out.append("" if fenced else re.sub(r"`[^`]*`", "", line))
    return "\n".join(out)


def _links(page: Path) -> list[str]:
    return _LINK.findall(_prose(page.read_text()))


@pytest.mark.parametrize("page", PAGES, ids=docpages.name)
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    links = [t for t in _links(page) if not re.match(r"[a-z]+:", t)]   # not https:, mailto:
    for target in links:
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        assert dest.exists(), f"{docpages.name(page)}: {target!r} names no file"
        if anchor:
            assert dest.suffix == ".md", f"{docpages.name(page)}: {target!r}"
            assert anchor in docpages.anchors(dest), \
                f"{docpages.name(page)}: {target!r}: {dest.name} has no heading #{anchor}"


def test_the_link_check_itself(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A page\n\n## Batches: `--points`\n\n## Why 0?\n\n"
                                   "## Why 0?\n```\n# not a heading\n```\n")
    assert docpages.anchors(tmp_path / "a.md") == {
        "a-page", "batches---points", "why-0", "why-0-1"}
    assert _LINK.findall(_prose("see [x](a.md#why-0), `[y](z.md)`, ![p](s.svg)")) == [
        "a.md#why-0", "s.svg"]


@pytest.mark.parametrize("page", DOCS, ids=docpages.name)
def test_every_docs_page_opens_with_its_table_of_contents(page: Path) -> None:
    text = page.read_text()
    heads = docpages.headings(text)
    assert heads[0][1] == 1 and heads[1][1] == 2, "a title, then the sections"
    top = "\n".join(text.split("\n")[:heads[1][0]])    # the text before the first section
    listed = set(re.findall(r"\]\(#([^)]+)\)", top))
    seen: dict[str, int] = {}
    sections = [(lv, docpages.slug(h, seen)) for _, lv, h in heads]
    missing = [s for lv, s in sections if lv in (2, 3) and s not in listed]
    assert not missing, f"{docpages.name(page)}'s contents miss {missing}"


def test_readme_and_the_docs_index_link_every_page() -> None:
    readme = {t.split("#")[0] for t in _links(docpages.README)}
    index = docpages.ROOT / "docs" / "README.md"
    listed = {t.split("#")[0] for t in _links(index)}
    for page in DOCS:
        assert f"docs/{page.name}" in readme, f"README.md does not link docs/{page.name}"
        assert page.name in listed, f"docs/README.md does not list {page.name}"


def test_the_docs_index_lists_every_section_of_every_page() -> None:
    index = set(_links(docpages.ROOT / "docs" / "README.md"))
    for page in DOCS:
        seen: dict[str, int] = {}
        heads = [(lv, docpages.slug(h, seen)) for _, lv, h in docpages.headings(page.read_text())]
        missing = [a for lv, a in heads if lv == 2 and f"{page.name}#{a}" not in index]
        assert not missing, f"docs/README.md does not list {page.name}'s sections {missing}"


def test_readme_is_the_pitch_the_two_commands_a_tour_and_links() -> None:
    text = docpages.README.read_text()
    sections = [h for _, lv, h in docpages.headings(text) if lv == 2]
    assert sections == ["Quick start (fresh machine, Python 3.10+)", "A tour", "Documentation"]
    assert len(text.split("\n")) < 250, "the reference belongs in docs/"


# How many examples of the documentation the tests compare byte for byte (or run, or scan):
# a move of text between pages must not lower a count. Before the reference moved to docs/,
# README alone had 6 golden blocks, 2 batch blocks, 22 doctest examples, 284 command lines and
# 1 Mermaid picture.
TESTED_AT_LEAST = {"golden blocks": 11, "batch blocks": 3, "doctest examples": 35,
                   "command lines": 331, "mermaid pictures": 1}


def _tested_examples() -> dict[str, int]:
    from test_api_functional import _doc_doctests
    from test_golden import README_BLOCKS, doc_blocks
    from test_readme import BATCH_EXAMPLES, COMMANDS, batch_example_blocks

    parser = doctest.DocTestParser()
    return {
        "golden blocks": sum(len(doc_blocks(n)) for n in README_BLOCKS),
        "batch blocks": sum(len(batch_example_blocks(g)) for g in BATCH_EXAMPLES),
        "doctest examples": sum(len(parser.get_examples(b)) for _, b in _doc_doctests()),
        "command lines": len(COMMANDS),
        "mermaid pictures": sum(1 for b in docpages.code_blocks() if b[2] == "mermaid"),
    }


def test_the_count_of_tested_examples_does_not_drop() -> None:
    counts = _tested_examples()
    dropped = {k: (counts[k], n) for k, n in TESTED_AT_LEAST.items() if counts[k] < n}
    assert not dropped, f"fewer examples tested than before (now, before): {dropped}"
