"""Mistakes made at the shell level, before the expression is parsed: each gets one line that
says what went wrong and what to type instead.

The shell splits words at spaces, expands `*` and `[...]` into file names and takes a leading
`-` for an option; people bring the habits of other tools (`-v`, `-at`, `x=1 y=2`, `1,5`).
Everything here runs on the command line's words or on an error already raised, never on the
success path of a well-formed command.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import click

from ..errors import InputError, UnboundName

_OPTION_WORD = re.compile(r"--?[A-Za-z][A-Za-z0-9-]*")
_BINDING = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=\S*")
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"

# options of other tools, and what gradcalc calls them
_OTHER_TOOLS = {
    "-v": "did you mean --version?", "-V": "did you mean --version?",
    "-version": "did you mean --version?", "-help": "did you mean --help?",
    "-o": "write the output to a file with the shell: > FILE",
    "-j": "did you mean --format json?", "-c": "did you mean --format csv?",
    "-t": "did you mean --tape?",
    "--no-color": "did you mean --color never?", "--no-colour": "did you mean --color never?",
    "--nocolor": "did you mean --color never?",
}
# Options that weaken the check (skip it, loosen a tolerance): suggested for a mistyped word
# only when the word already says so (`--nocheck`, `--tol`), never as a look-alike of
# something else (`--no-color` is not `--no-check`).
_WEAKENING = {"--no-check": ("nocheck", "skipcheck"), "--rtol": ("tol",), "--atol": ("tol",)}


# ---------------------------------------------------------------- leading minus


def option_table(command: click.Command) -> tuple[set[str], set[str]]:
    """The command's option spellings: (all of them, those that take a value)."""
    names: set[str] = {"-h", "--help"}
    valued: set[str] = set()
    for param in command.params:
        if isinstance(param, click.Option):
            spellings = [*param.opts, *param.secondary_opts]
            names.update(spellings)
            if not param.is_flag and not param.count:
                valued.update(spellings)
    return names, valued


def move_dash_words(args: Sequence[str], command: click.Command) -> tuple[list[str], list[str]]:
    """Words that start with '-' but are no option of the command (`-x^2`, `-2*x`) are EXPR:
    they move after '--' so that click reads them as the argument. Returns the new word list
    and the moved words. Values of options (`--rtol -1`), `--` and everything after it stay."""
    names, valued = option_table(command)
    kept: list[str] = []
    moved: list[str] = []
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            break
        if word.startswith("--") or word == "-" or not word.startswith("-"):
            kept.append(word)
            if word in valued and i + 1 < len(args):
                kept.append(args[i + 1])
                i += 1
        elif word in names:
            kept.append(word)
            if word in valued and i + 1 < len(args):
                kept.append(args[i + 1])
                i += 1
        elif word[:2] in valued and os.path.exists(word[2:]):
            kept.append(word)  # -fPATH, click's attached value
        else:
            moved.append(word)
        i += 1
    if not moved:
        return list(args), []
    rest = list(args[i + 1:]) if i < len(args) else []
    return kept + ["--"] + moved + rest, moved


def option_hint(word: str, command: click.Command) -> str | None:
    """If a word moved to EXPR looks like a mistyped option (`-V`, `-at`), what to write."""
    if not _OPTION_WORD.fullmatch(word):
        return None
    names, _ = option_table(command)
    if word in _OTHER_TOOLS:
        return _OTHER_TOOLS[word]
    if "-" + word in names:
        return f"did you mean -{word}? long options take two dashes"
    import difflib

    typed = word if word.startswith("--") else "-" + word
    bare = re.sub(r"[-_]", "", typed.lower())
    allowed = [n for n in sorted(names) if n.startswith("--") and (
        n not in _WEAKENING or any(w in bare for w in _WEAKENING[n]))]
    close = difflib.get_close_matches(typed, allowed, n=1)
    return f"did you mean {close[0]}?" if close else None


def dash_expression(word: str, bindings: Mapping[str, Any] | None, command: click.Command
                    ) -> None:
    """Refuse a moved word that reads as an option rather than an expression: letters only,
    and not an expression of bound names and constants (`-x` with --at x=... is fine).
    bindings: the bound names, or None when other words stand beside EXPR (so this word is
    an option with its value, not an expression)."""
    if not re.fullmatch(r"-[A-Za-z][A-Za-z0-9_]*", word):
        if word.startswith("--") and _OPTION_WORD.fullmatch(word):
            hint = option_hint(word, command)
            raise click.UsageError(f"unknown option '{word}'" + (f"; {hint}" if hint else ""))
        return
    name = word[1:]
    if bindings is not None and (name in bindings or name in ("pi", "e")):
        return
    hint = option_hint(word, command)
    tail = "" if bindings is None else \
        f"; if '{word}' is the expression, bind {name}: --at {name}=VALUE"
    raise click.UsageError(f"unknown option '{word}'" + (f" ({hint})" if hint else "") + tail)


# ---------------------------------------------------------------- extra words


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def extra_words(words: Sequence[str], at: Sequence[str], wrt: str | None) -> None:
    """EXPR is one word; say what several words mean and what to type instead."""
    expr, extra = words[0], list(words[1:])
    if any(w == "=" or w.startswith("=") for w in extra) or (
            at and "=" not in at[-1] and extra and extra[0].startswith("=")):
        name = at[-1] if at else "NAME"
        value = next((w.lstrip("=") for w in extra if w.strip("=")), "VALUE")
        raise click.UsageError(f"unexpected '=' as a separate word: no spaces around '=' in "
                               f"a binding: write --at {name}={value}")
    if at and at[-1].count("[") > at[-1].count("]"):
        vector = " ".join([at[-1], *extra])
        raise click.UsageError(f"unexpected argument '{extra[0]}': the shell split the "
                               f"vector at its spaces: quote it, --at {_quote(vector)}, or "
                               "drop the spaces")
    if all(_BINDING.fullmatch(w) for w in extra):
        pieces = [p.rstrip(",") for p in at] + extra
        fix = ",".join(p for p in pieces if p)
        if at:
            raise click.UsageError(f"unexpected argument '{extra[0]}': bindings are separated "
                                   f"by commas, not spaces: write --at {fix}")
        raise click.UsageError(f"unexpected argument '{extra[0]}': bind values with --at: "
                               f"write --at {fix}")
    if wrt is not None and all(re.fullmatch(_NAME, w.strip(",")) for w in extra) and (
            not re.fullmatch(_NAME, expr) or wrt.endswith(",")):
        fix = ",".join(n.strip(",") for n in [wrt, *extra] if n.strip(","))
        raise click.UsageError(f"unexpected argument '{extra[0]}': --wrt takes names separated "
                               f"by commas, not spaces: write --wrt {fix}")
    files = [w for w in words if os.path.exists(w)]
    if files:
        shown = ", ".join(files[:3]) + (", ..." if len(files) > 3 else "")
        raise click.UsageError(f"unexpected arguments: the shell expanded a '*' or '[...]' in "
                               f"EXPR into file names ({shown}): put EXPR in single quotes")
    raise click.UsageError(f"unexpected argument '{extra[0]}': EXPR must be one word: quote "
                           f"it, gradcalc {_quote(' '.join(words))}")


# ---------------------------------------------------------------- --at texts


def bindings_text(at: Iterable[str]) -> None:
    """Mistakes in --at values that the binding parser would misread: a decimal comma
    (`x=1,5`), bindings separated by spaces (`x=1 y=2`), `x:3` or `x==3` for `x=3`."""
    for text in at:
        pieces = [p.strip() for p in top_level(text)]
        for k, piece in enumerate(pieces):
            if k and re.fullmatch(r"\d+", piece) and re.search(r"=\s*-?\d+$", pieces[k - 1]):
                whole = pieces[k - 1].partition("=")
                raise InputError(f"--at: '{piece}' after '{pieces[k - 1]},' is not a binding",
                                 hint=f"a decimal comma? write {whole[0].strip()}="
                                      f"{whole[2].strip()}.{piece} (commas separate bindings)")
            m = re.fullmatch(rf"({_NAME})\s*=\s*(\S+)\s+({_NAME}\s*=.*)", piece)
            if m and "[" not in piece:
                fix = ",".join(re.split(r"\s+(?=[A-Za-z_][A-Za-z0-9_]*\s*=)", piece))
                raise InputError(f"--at: bindings '{piece}' are separated by a space",
                                 hint=f"separate them with commas: --at {fix.replace(' ', '')}")
            m = re.fullmatch(rf"({_NAME})\s*(?::|==|:=)\s*(.+)", piece)
            if m:
                raise InputError(f"--at: binding '{piece}' has no '='",
                                 hint=f"write {m.group(1)}={m.group(2)}")


def top_level(text: str) -> list[str]:
    """The comma-separated pieces of an --at text (commas inside brackets do not split)."""
    from ..lang.syntax import split_top_level

    return [piece for _, piece in split_top_level(text)]


# ---------------------------------------------------------------- errors in EXPR


def refine(exc: InputError, source: str, from_file: bool, program: Any = None,
           bindings: Mapping[str, Any] | None = None) -> InputError:
    """An error about EXPR, with a better hint where the cause is at the shell level: EXPR is a
    file name, options or bindings typed inside the quotes, `d/dx` written in front, a decimal
    comma, several unbound names."""
    name = source.strip()
    if not from_file and "\n" not in name and not re.fullmatch(_NAME, name) and \
            os.path.isfile(name):  # a bare name is an expression even if a file has it
        return InputError(f"EXPR '{name}' is a file name, not an expression",
                          hint=f"to read the program from it, write -f {name}")
    text = source.strip()
    if not from_file and re.search(r"(^|\s)--(at|wrt|of|format|points|hessian|tape)\b", text):
        head = re.split(r"\s--(?:at|wrt|of|format|points|hessian|tape)\b", " " + text)[0]
        return InputError("EXPR contains command-line options",
                          hint=f"options go outside the quotes: gradcalc {_quote(head.strip())} "
                               "--at ...")
    m = re.match(r"\s*d\s*/\s*d\s*([A-Za-z_]\w*)\s*(?:\(|\s)", source)
    if m and exc.span is not None and exc.span.start <= len(m.group()):
        rest = source[m.end():].strip()
        if rest.endswith(")") and source[m.end() - 1] == "(":
            rest = rest[:-1]
        return InputError(f"EXPR starts with 'd/d{m.group(1)}'",
                          hint=f"give the function alone: gradcalc {_quote(rest)} --at "
                               f"{m.group(1)}=VALUE computes d/d{m.group(1)} itself")
    m = re.search(rf"[\s,;]+(?:at|where|with|for)\s+({_NAME}\s*=.*)$", text)
    if m and not from_file:
        at = re.sub(r"\s*(,|and)\s*", ",", m.group(1)).replace(" ", "")
        return InputError("EXPR contains the point",
                          hint=f"bind values with --at: gradcalc {_quote(text[:m.start()])} "
                               f"--at {at}")
    span = exc.span
    if span is not None and exc.source == source and 0 < span.start < len(source) - 1:
        i = span.start
        if source[i] == "," and source[i - 1].isdigit() and source[i + 1].isdigit():
            whole = re.search(r"\d+$", source[:i]).group()  # type: ignore[union-attr]
            part = re.match(r"\d+", source[i + 1:]).group()  # type: ignore[union-attr]
            return InputError(exc.parts, span, source,
                              f"a decimal comma? write {whole}.{part}")
    if isinstance(exc, UnboundName) and program is not None:
        from ..lang.syntax import free_names

        missing = [n for n in free_names(program) if n not in (bindings or {})]
        if len(missing) > 1 and exc.name in missing:
            listed = ", ".join(f"'{n}'" for n in missing[:8]) + (
                f" and {len(missing) - 8} more" if len(missing) > 8 else "")
            at = ",".join(f"{n}=VALUE" for n in missing[:8])
            return InputError(f"unbound names {listed}", exc.span, source,
                              f"bind them with --at {at}")
    return exc
