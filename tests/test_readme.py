"""The documentation's command lines: README's two commands of a fresh machine, CI running the
same test command, and quoting that works as typed in bash, zsh and fish in README.md and every
page of docs/.

The example outputs are pinned by tests/test_golden.py; this file checks the commands
themselves, as text (nothing is installed or run here).
"""

from __future__ import annotations

import re
import textwrap

import pytest

import docpages

ROOT = docpages.ROOT
README = docpages.README.read_text()
CI = (ROOT / ".ci" / "run").read_text()

# words a command line in README starts with
_COMMAND = re.compile(r"(\$ )?(gradcalc|pip|pipx|python3?|printf|echo|[A-Z_]+=\S* )")


def _block_after(marker: str) -> str:
    """The first fenced code block after the paragraph that starts with marker."""
    at = README.index(marker)
    start = README.index("```\n", at) + 4
    return README[start:README.index("```", start)].strip()


def test_the_quick_start_installs_only_the_tool() -> None:
    command = _block_after("In a checkout, install the tool and run the main example")
    assert "\n" not in command
    install = re.search(r"pip install (\S+)", command)
    assert install is not None and install.group(1) in ("-e", "."), command
    assert "[" not in command.split("pip install", 1)[1].split("&&")[0], command  # no extras
    assert 'gradcalc "tax*(a*an+o*on)" --at a=100,an=2,o=150,on=3,tax=1.1' in command


def test_ci_runs_the_readme_test_command_exactly() -> None:
    command = _block_after("Run the tests")
    assert "\n" not in command and "'.[test]'" in command and "pytest" in command
    lines = [line.strip() for line in CI.splitlines()]
    assert command in lines, f"{command!r} is not a line of .ci/run"


def test_extras_are_named_as_they_install_from_a_checkout() -> None:
    # gradcalc is on no package index: `pip install 'gradcalc[dask]'` cannot work
    sources = [README, *(p.read_text() for p in (ROOT / "src").rglob("*.py"))]
    assert not any("gradcalc[" in text for text in sources)
    assert "pip install -e '.[dask]'" in README


def _command_lines() -> list[tuple[str, str]]:
    """("page:line", text) of every command line in README.md and docs/*.md: in code blocks,
    the lines that start with a command (or `$ `); in prose, code spans that start with a
    command or an option. The first column of "Mistakes at the shell" (mistakes, on purpose)
    is left out."""
    found: list[tuple[str, str]] = []
    mistakes_page, mistakes_text = docpages.section("Mistakes at the shell")
    for page in docpages.PAGES:
        text = page.read_text()
        where = docpages.name(page)
        mistakes = text.index(mistakes_text) if page == mistakes_page else -1
        mistakes_end = mistakes + len(mistakes_text)
        parts = re.split(r"(^```[^\n]*\n.*?^```$)", text, flags=re.S | re.M)
        offset = 0
        for part in parts:
            if part.startswith("```"):
                for k, line in enumerate(part.split("\n")[1:-1], 1):
                    if _COMMAND.match(line) and "[OPTIONS]" not in line:
                        found.append((f"{where}:{text.count(chr(10), 0, offset) + k + 1}",
                                      line.removeprefix("$ ")))
            else:
                for m in re.finditer(r"`((?:(?:gradcalc|printf|echo|pip) |--)[^`]*)`", part):
                    at = offset + m.start()
                    line_start = text.rfind("\n", 0, at) + 1
                    if mistakes < at < mistakes_end and text[line_start:at].count("|") == 1:
                        continue
                    if "..." not in m.group(1):  # a synopsis: `--at NAME=VALUE[,...]`
                        found.append((f"{where}:{text.count(chr(10), 0, at) + 1}",
                                       " ".join(m.group(1).split())))
            offset += len(part)
    return found


def _unquoted_specials(command: str) -> list[str]:
    """Characters that bash, zsh or fish would not pass through as typed: outside quotes,
    glob and brace characters (zsh stops at a glob that matches no file), parentheses
    (fish's command substitution), `!` (history expansion, also inside double quotes) and
    `#` starting a word (zsh's interactive shell has no comments by default)."""
    bad: list[str] = []
    quote = None
    escaped = False
    for k, c in enumerate(command):
        if escaped:
            escaped = False
        elif quote == "'":
            quote = None if c == "'" else quote
        elif quote == '"':
            if c == '"':
                quote = None
            elif c == "\\":
                escaped = True
            elif c == "!":
                bad.append(c)
        elif c in "'\"":
            quote = c
        elif c == "\\":
            escaped = True
        elif c in "[]*?(){}!^" or (c == "#" and (k == 0 or command[k - 1] == " ")):
            bad.append(c)
    return bad


COMMANDS = _command_lines()


def test_the_documentation_has_command_lines_to_check() -> None:
    texts = [c for _, c in COMMANDS]
    assert len(texts) > 40
    assert any(t.startswith("--at") and "[" in t for t in texts)  # inline `--at 'w=[...]'`


@pytest.mark.parametrize("line, command", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_doc_commands_are_quoted_for_bash_zsh_and_fish(line: str, command: str) -> None:
    assert not _unquoted_specials(command), f"{line}: quote {command!r}"


@pytest.mark.parametrize("command, bad", [
    ("gradcalc 'sum(w)' --at w=[1,2]", ["[", "]"]),
    ("gradcalc x*y --at x=1", ["*"]),
    ('gradcalc "x!" --at x=1', ["!"]),
    ("pipx install .   # a comment", ["#"]),
    ("gradcalc 'sum(w)' --at 'w=[1,2]' --points 'd/*.csv'", []),
    ("gradcalc \"sum(w)\" --at \"w=[1,2]\" --claim 'x: 2*x' # no", ["#"]),
])
def test_the_quoting_scan_itself(command: str, bad: list[str]) -> None:
    assert _unquoted_specials(command) == bad


BATCH_EXAMPLES = ["points_kept_csv", "points_jsonl"]


def batch_example_blocks(golden: str) -> list[str]:
    """The output shown by every block of the documentation that shows golden's command."""
    from test_golden import CASES

    argv, stdin, _, _ = CASES[golden]
    blocks = [textwrap.dedent(body) for _, _, info, body in docpages.code_blocks() if not info]
    shown = [b.split("\n", 1) for b in blocks if b.startswith("$ ")]
    return [rest for head, rest in shown if all(a in head for a in argv if a != "-")
            and stdin.replace("\n", "\\n") in head]


@pytest.mark.parametrize("golden", BATCH_EXAMPLES)
def test_doc_batch_examples_are_the_pinned_outputs(golden: str) -> None:
    # every block that shows a golden case's command shows its output, byte for byte
    out = (ROOT / "tests" / "golden" / f"{golden}.txt").read_text().split("\n", 1)[1]
    matches = batch_example_blocks(golden)
    assert matches and all(m == out for m in matches), matches
