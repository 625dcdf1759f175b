"""Tab completion of file names wherever a path goes, through click's completion protocol.

Options that take a path (`--points`, `-f/--file`, `--graph`, `--output`, `--claims`) answer
with click's `CompletionItem(type="file")`: the shell's own file-name completion then runs, with
its quoting and its directory handling. A binding read from a file, `--at NAME=@PATH`, is one
word with text before the path, which no shell's file completion can take apart, so its
completions are computed here: the files and directories that start with PATH, each returned as
the whole word (`x=@data/A.npy`).

bash splits a word at `=` (COMP_WORDBREAKS) before click sees it, and replaces only the part
after the last split; the bash class here joins those pieces back for click and trims each
answer to the part bash replaces.
"""

from __future__ import annotations

import os
import re

import click
from click.shell_completion import BashComplete, CompletionItem, add_completion_class

_AT_FILE = re.compile(r"(?P<head>(?:.*,)?\s*[A-Za-z_][A-Za-z0-9_]*\s*=@)(?P<path>[^,]*)\Z")
MAX_ITEMS = 200   # a directory of thousands of files lists its first 200 (sorted)


def path(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """An option whose value is a path: the shell completes file names."""
    return [CompletionItem(incomplete, type="file")]


def at_file(ctx: click.Context, param: click.Parameter, incomplete: str
            ) -> list[CompletionItem]:
    """--at after `NAME=@`: the paths that start with what follows the `@`, as whole words
    (a directory ends in `/`, so Tab goes on into it); nothing elsewhere in a binding."""
    m = _AT_FILE.match(incomplete)
    if m is None:
        return []
    head, typed = m.group("head"), m.group("path")
    folder, stem = os.path.split(typed)
    try:
        entries = sorted(os.scandir(os.path.expanduser(folder) or "."), key=lambda e: e.name)
    except OSError:
        return []
    items = []
    for entry in entries:
        if not entry.name.startswith(stem) or (entry.name.startswith(".")
                                                and not stem.startswith(".")):
            continue
        try:
            slash = "/" if entry.is_dir() else ""
        except OSError:
            slash = ""
        items.append(CompletionItem(head + os.path.join(folder, entry.name) + slash))
        if len(items) >= MAX_ITEMS:
            break
    return items


class _Bash(BashComplete):
    """bash's completion, with the words bash split at `=` joined back (see the module)."""

    _cut = 0   # characters of the joined word that bash does not replace

    def get_completion_args(self) -> tuple[list[str], str]:
        args, incomplete = super().get_completion_args()
        words = [*args, incomplete]
        joined: list[str] = []
        glue = False
        for word in words:
            if joined and (word == "=" or glue):
                joined[-1] += word
            else:
                joined.append(word)
            glue = word == "="
        self._cut = len(joined[-1]) - len(incomplete)   # what bash does not replace
        return joined[:-1], joined[-1]

    def format_completion(self, item: CompletionItem) -> str:
        if self._cut and item.type == "plain":
            item = CompletionItem(item.value[self._cut:], type=item.type, help=item.help)
        return super().format_completion(item)


def install() -> None:
    """Use the bash class above for `_GRADCALC_COMPLETE=bash_complete`."""
    add_completion_class(_Bash, "bash")
