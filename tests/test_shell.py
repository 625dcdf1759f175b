"""The command at the shell: mistakes people make typing a calculator into a shell, an EXPR
that starts with '-', pipes closed early, stdin, --quiet, colour and the compact JSON option.

Each mistake must give one `error:` line, exit 2, nothing on stdout, and a suggestion that is
right: where the suggestion is a command line, the test runs it and it must work. The pipe,
stdin and terminal tests run the installed console script in a subprocess.
"""

from __future__ import annotations

import json
import os
import pty
import select
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

EXE = os.path.join(os.path.dirname(sys.executable), "gradcalc")
needs_script = pytest.mark.skipif(not os.path.exists(EXE),
                                  reason="console script not installed in this environment")


def _one_error_line(r, needle: str) -> str:
    assert r.status == 2, (r.status, r.out, r.err)
    assert r.out == ""
    lines = r.err.splitlines()
    assert lines[0].startswith("error: ") and "Traceback" not in r.err
    assert len(lines) in (1, 3)  # one line, plus source and caret when located
    assert needle in lines[0], lines[0]
    return lines[0]


# (argv, what the first line must contain, the command line it suggests or None)
MISTAKES = [
    # spaces
    (["x*y", "--at", "x=1", "y=2"], "write --at x=1,y=2", ["x*y", "--at", "x=1,y=2"]),
    (["x*y", "--at", "x=1 y=2"], "--at x=1,y=2", ["x*y", "--at", "x=1,y=2"]),
    (["x*y", "--at", "x=1,", "y=2"], "write --at x=1,y=2", ["x*y", "--at", "x=1,y=2"]),
    (["x*y", "x=1", "y=2"], "write --at x=1,y=2", ["x*y", "--at", "x=1,y=2"]),
    (["x^2", "--at", "x", "=", "3"], "write --at x=3", ["x^2", "--at", "x=3"]),
    (["sum(w)", "--at", "w=[1,", "2]"], "--at 'w=[1, 2]'", ["sum(w)", "--at", "w=[1, 2]"]),
    (["x", "+", "y", "--at", "x=1,y=2"], "gradcalc 'x + y'", ["x + y", "--at", "x=1,y=2"]),
    (["x*y", "--at", "x=1,y=2", "--wrt", "x", "y"], "write --wrt x,y",
     ["x*y", "--at", "x=1,y=2", "--wrt", "x,y"]),
    # quoting: options or the point inside the quotes, d/dx written in front
    (["x^2 --at x=3"], "options go outside the quotes: gradcalc 'x^2' --at", None),
    (["x^2 at x=3"], "gradcalc 'x^2' --at x=3", ["x^2", "--at", "x=3"]),
    (["x^2 where x=3, y=1"], "gradcalc 'x^2' --at x=3,y=1", ["x^2", "--at", "x=3,y=1"]),
    (["d/dx x^2", "--at", "x=3"], "gradcalc 'x^2' --at x=VALUE", ["x^2", "--at", "x=3"]),
    (["d/dx(sin(x))"], "gradcalc 'sin(x)' --at x=VALUE", ["sin(x)", "--at", "x=3"]),
    # names from other tools and languages
    (["ln(x)", "--at", "x=2"], "write log(...)", ["log(x)", "--at", "x=2"]),
    (["arctan(x)", "--at", "x=2"], "write atan(...)", ["atan(x)", "--at", "x=2"]),
    (["LOG(x)", "--at", "x=2"], "names are case-sensitive: write log(...)", None),
    (["np.exp(x)", "--at", "x=2"], "write exp without the 'np.' prefix",
     ["exp(x)", "--at", "x=2"]),
    (["math.pi*x", "--at", "x=2"], "write pi without the 'math.' prefix",
     ["pi*x", "--at", "x=2"]),
    (["|x|", "--at", "x=2"], "write abs(...)", ["abs(x)", "--at", "x=2"]),
    (["E^x", "--at", "x=2"], "write e (or exp(...))", ["e^x", "--at", "x=2"]),
    (["PI*x", "--at", "x=2"], "write pi", ["pi*x", "--at", "x=2"]),
    (["sgn(x)", "--at", "x=2"], "write sign(...)", ["sign(x)", "--at", "x=2"]),
    (["arcsinh(x)", "--at", "x=2"], "write asinh(...)", ["asinh(x)", "--at", "x=2"]),
    (["gammaln(x)", "--at", "x=2"], "write lgamma(...)", ["lgamma(x)", "--at", "x=2"]),
    (["x!", "--at", "x=2"], "factorials are not part of the language", None),
    (["50%*x", "--at", "x=2"], "a percent is /100", ["50/100*x", "--at", "x=2"]),
    (["x*50%", "--at", "x=2"], "'%' is the remainder, as in Python", None),
    (["-V"], "did you mean --version?", ["--version"]),
    (["-v"], "did you mean --version?", ["--version"]),
    (["-at", "x=3", "x^2"], "did you mean --at?", ["--at", "x=3", "x^2"]),
    (["x^2", "--at", "x=3", "-o", "out.json"], "> FILE", None),
    (["--frmat", "json", "x", "--at", "x=1"], "did you mean --format?",
     ["--format", "json", "x", "--at", "x=1"]),
    # several unbound names at once
    (["x*y+z"], "bind them with --at x=VALUE,y=VALUE,z=VALUE",
     ["x*y+z", "--at", "x=1,y=2,z=3"]),
    # decimal commas
    (["x^2", "--at", "x=1,5"], "write x=1.5", ["x^2", "--at", "x=1.5"]),
    (["2,5*x", "--at", "x=1"], "write 2.5", ["2.5*x", "--at", "x=1"]),
    # a colon for '='
    (["x^2", "--at", "x:3"], "write x=3", ["x^2", "--at", "x=3"]),
    # nothing at all
    ([], "gradcalc -h shows the options and examples", ["-h"]),
]


@pytest.mark.parametrize("argv, needle, fixed", MISTAKES,
                         ids=[" ".join(m[0]) or "(none)" for m in MISTAKES])
def test_shell_mistake_gets_one_line_with_a_fix_that_works(gradcalc, argv, needle,
                                                           fixed) -> None:
    _one_error_line(gradcalc(*argv), needle)
    if fixed is not None:
        r = gradcalc(*fixed, *([] if fixed[0].startswith("-") and "--at" not in fixed
                               else ["--no-check"]))
        assert r.status == 0, (fixed, r.err)


def test_a_file_name_where_an_expression_goes(gradcalc, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("prog.gc").write_text("y = x^2\n")
    _one_error_line(gradcalc("prog.gc", "--at", "x=3"), "write -f prog.gc")
    r = gradcalc("-f", "prog.gc", "--at", "x=3", "--format", "json")
    assert r.status == 0 and r.json()["value"] == 9.0
    Path("x").write_text("")  # a bare name stays an expression, whatever files exist
    _one_error_line(gradcalc("x"), "bind it with --at x=VALUE")


def test_a_glob_the_shell_expanded(gradcalc, tmp_path, monkeypatch) -> None:
    # `gradcalc x * y` unquoted: bash replaces * with the file names of the directory
    monkeypatch.chdir(tmp_path)
    for name in ("notes.txt", "data.csv"):
        Path(name).write_text("")
    line = _one_error_line(gradcalc("x", "data.csv", "notes.txt", "y", "--at", "x=1,y=2"),
                           "put EXPR in single quotes")
    assert "expanded a '*'" in line and "data.csv" in line


def test_suggestions_from_other_tools_are_right(gradcalc) -> None:
    # each replacement computes the same value as the foreign function (math is the referee)
    import math

    for argv, value in [(["log(1 + x)", "--at", "x=0.5"], math.log1p(0.5)),
                        (["exp(x) - 1", "--at", "x=0.5"], math.expm1(0.5)),
                        (["asinh(x)", "--at", "x=0.5"], math.asinh(0.5)),
                        (["acosh(x)", "--at", "x=1.5"], math.acosh(1.5)),
                        (["atanh(x)", "--at", "x=0.5"], math.atanh(0.5)),
                        (["cbrt(x)", "--at", "x=-8"], -2.0),
                        (["lgamma(x)", "--at", "x=0.5"], math.lgamma(0.5)),
                        (["mod(x, 3)", "--at", "x=-7"], math.fmod(-7, 3) + 3),
                        (["x % 3", "--at", "x=-7"], -7 % 3)]:
        r = gradcalc(*argv, "--no-check", "--format", "json")
        assert r.json()["value"] == pytest.approx(value, rel=1e-15)


# ---------------------------------------------------------------- leading minus


@pytest.mark.parametrize("argv, value, slope", [
    (["-x^2", "--at", "x=3"], -9.0, -6.0),
    (["--at", "x=3", "-x^2"], -9.0, -6.0),
    (["-x", "--at", "x=2"], -2.0, -1.0),
    (["-2*x", "--at", "x=2"], -4.0, -2.0),
    (["-sin(x)*h", "--at", "x=0,h=2"], -0.0, -2.0),  # 'h' inside is no -h (help)
    (["-f*x", "--at", "f=2,x=3"], -6.0, -2.0),  # nor is 'f' a -f (file)
    (["--at", "x=3", "--", "-x^2"], -9.0, -6.0),  # '--' still works
])
def test_expression_may_start_with_minus(gradcalc, argv, value, slope) -> None:
    r = gradcalc("--format", "json", *argv)
    assert r.status == 0, r.err
    obj = r.json()
    assert obj["value"] == value and obj["gradient"]["x"] == slope


def test_minus_e_is_the_constant(gradcalc) -> None:
    import math

    r = gradcalc("-e", "--format", "json")
    assert r.status == 0 and r.json()["value"] == -math.e


def test_negative_option_values_are_not_expressions(gradcalc) -> None:
    _one_error_line(gradcalc("x", "--at", "x=1", "--rtol", "-1"), "non-negative")


# ---------------------------------------------------------------- console script


def _script(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120, **kwargs)


@needs_script
def test_leading_minus_through_the_console_script() -> None:
    proc = _script(["-x^2", "--at", "x=3", "--format", "csv", "--no-check"])
    assert proc.returncode == 0 and proc.stdout == "value,d_x\n-9.0,-6.0\n"


@needs_script
@pytest.mark.parametrize("how", [["-f", "-"], ["-"]])
def test_stdin_is_read_by_dash_f_dash_as_by_dash(how) -> None:
    proc = _script([*how, "--at", "x=3", "--format", "csv"], input="y = x^2\nz = 2*y\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "value,d_x\n18.0,12.0\n"


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("points") / "big.csv"
    rows = "\n".join(f"{k % 97 / 7},{k % 89 / 5}" for k in range(300_000))
    path.write_text("x,y\n" + rows + "\n")
    return path


def _closed_early(args: list[str], keep: int) -> tuple[int, str]:
    """Run the script, read `keep` bytes of stdout, close the pipe; (status, stderr)."""
    proc = subprocess.Popen([EXE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = proc.stdout.read(keep)
    assert len(head) == keep
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=300)
    return proc.returncode, err


@needs_script
@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_a_pipe_closed_early_ends_quietly(big_csv, fmt) -> None:
    # like `gradcalc ... --points big.csv --format csv | head -1`: status 0 or SIGPIPE
    status, err = _closed_early(["x*sin(y)", "--points", str(big_csv), "--format", fmt,
                                 "--no-check"], 20)
    assert status in (0, -signal.SIGPIPE), (status, err)
    assert err == ""


@needs_script
def test_a_pipe_closed_early_after_a_checked_batch(big_csv) -> None:
    status, err = _closed_early(["x*sin(y)", "--points", str(big_csv), "--format", "csv"], 10)
    assert status in (0, -signal.SIGPIPE) and err == ""


@needs_script
def test_head_in_a_real_shell_pipeline(big_csv) -> None:
    cmd = (f"{shlex.quote(EXE)} 'x*sin(y)' --points {shlex.quote(str(big_csv))} --format csv "
           "--no-check | head -1; echo \"status ${PIPESTATUS[0]}\"")
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=300)
    assert proc.stdout.splitlines() == ["value,d_x,d_y", "status 0"]
    assert proc.stderr == ""


@needs_script
def test_quiet_prints_nothing_and_the_status_is_the_answer() -> None:
    ok = _script(["-q", "x^2", "--at", "x=3"])
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
    wrong = _script(["x^2", "--at", "x=3", "--expect", "x=7", "--quiet"])
    assert wrong.returncode == 1 and wrong.stdout == ""
    bad = _script(["-q", "x^", "--at", "x=3"])
    assert bad.returncode == 2 and bad.stdout == "" and bad.stderr.startswith("error: ")
    nonfinite = _script(["-q", "log(x)", "--at", "x=0", "--format", "json"])
    assert nonfinite.returncode == 3 and nonfinite.stdout == ""


@needs_script
def test_jsonl_is_the_json_object_on_one_line() -> None:
    args = ["tax*(a*an+o*on)", "--at", "a=100,an=2,o=150,on=3,tax=1.1", "--tape"]
    full = json.loads(_script([*args, "--format", "json"]).stdout)
    compact = _script([*args, "--format", "jsonl"]).stdout
    assert compact.endswith("\n") and compact.count("\n") == 1
    assert json.loads(compact) == full


def _on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the script with stdout and stderr on a pseudo-terminal; (status, what it wrote)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([EXE, *args], stdout=slave, stderr=slave, stdin=subprocess.DEVNULL,
                            env=env)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=120), b"".join(chunks).decode()


@needs_script
def test_colour_on_a_terminal_only_and_never_with_no_color() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["TERM"] = "xterm"
    status, shown = _on_a_terminal(["x^2", "--at", "x=3"], env)
    assert status == 0 and "\x1b[32mok\x1b[0m" in shown  # the verdict word, green
    status, shown = _on_a_terminal(["x^", "--at", "x=3"], env)
    assert status == 2 and "\x1b[31m\x1b[1merror:\x1b[0m" in shown
    status, shown = _on_a_terminal(["x^2", "--at", "x=3"], {**env, "NO_COLOR": "1"})
    assert status == 0 and "\x1b[" not in shown and "ok" in shown
    piped = _script(["x^2", "--at", "x=3"], env=env)
    assert "\x1b[" not in piped.stdout + piped.stderr


@needs_script
def test_completion_scripts_for_bash_zsh_and_fish() -> None:
    for shell, marker in [("bash", "complete -o nosort -F _gradcalc_completion gradcalc"),
                          ("zsh", "#compdef gradcalc"), ("fish", "complete --no-files")]:
        proc = _script([], env={**os.environ, "_GRADCALC_COMPLETE": f"{shell}_source"})
        assert proc.returncode == 0 and marker in proc.stdout, (shell, proc.stdout[:200])
    proc = _script([], env={**os.environ, "_GRADCALC_COMPLETE": "bash_complete",
                            "COMP_WORDS": "gradcalc --format ", "COMP_CWORD": "2"})
    assert proc.stdout.split() == ["plain,text", "plain,json", "plain,jsonl", "plain,csv"]


# ---------------------------------------------------------------- suggestions never weaken


WEAKENING = {"--no-check", "--rtol", "--atol"}


def _typos(option: str) -> set[str]:
    """Words a person might type for option: a letter dropped, two swapped, a `no-` prefix,
    British spelling."""
    body = option[2:]
    words = {"--" + body[:k] + body[k + 1:] for k in range(len(body))}
    words |= {"--" + body[:k] + body[k + 1] + body[k] + body[k + 2:]
              for k in range(len(body) - 1)}
    words |= {"--no-" + body, "--no" + body, option.replace("color", "colour")}
    return words


def test_a_suggestion_never_weakens_the_check() -> None:
    from gradcalc.cli.main import command
    from gradcalc.cli.usage import option_hint, option_table

    names, _ = option_table(command)
    checked = 0
    for option in sorted(n for n in names if n.startswith("--") and n not in WEAKENING):
        for word in _typos(option) - names:
            hint = option_hint(word, command) or ""
            said = hint.removeprefix("did you mean ").rstrip("?").split()[:1]
            assert not set(said) & WEAKENING, (word, hint)
            checked += 1
    assert checked > 200
    # a word that says what it wants still gets it
    assert option_hint("--nocheck", command) == "did you mean --no-check?"
    assert option_hint("--tol", command) == "did you mean --rtol?"


@pytest.mark.parametrize("word", ["--no-color", "--no-colour", "--nocolor"])
def test_no_color_suggests_the_colour_switch(gradcalc, word) -> None:
    line = _one_error_line(gradcalc("x^2", "--at", "x=3", word), "did you mean --color never?")
    assert "--no-check" not in line
    assert gradcalc("x^2", "--at", "x=3", "--color", "never").status == 0


# ---------------------------------------------------------------- colour


ANSI = "\x1b["


@pytest.mark.parametrize("env, option, coloured", [
    ({}, [], False),                                  # not a terminal
    ({"FORCE_COLOR": "1"}, [], True),
    ({"FORCE_COLOR": ""}, [], False),                 # set but empty: as if unset
    ({"NO_COLOR": "1", "FORCE_COLOR": "1"}, [], False),  # NO_COLOR speaks first
    ({"FORCE_COLOR": "1"}, ["--color", "never"], False),  # the option speaks before both
    ({"NO_COLOR": "1"}, ["--color", "always"], True),
    ({"TERM": "dumb"}, ["--color", "always"], True),
    ({"TERM": "dumb", "FORCE_COLOR": "1"}, [], True),
    ({}, ["--colour", "ALWAYS"], True),
])
def test_colour_option_and_environment(gradcalc, monkeypatch, env, option, coloured) -> None:
    for name in ("NO_COLOR", "FORCE_COLOR", "TERM"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    r = gradcalc("x^2", "--at", "x=3", *option)
    assert r.status == 0 and (ANSI + "32mok" in r.out) == coloured, r.out
    bad = gradcalc("x^", "--at", "x=3", *option)
    assert bad.status == 2 and (ANSI in bad.err) == coloured, bad.err
    plain = gradcalc("x^2", "--at", "x=3", "--format", "json", *option)
    assert ANSI not in plain.out  # colour is for the text report only
    assert plain.json()["value"] == 9.0


# ---------------------------------------------------------------- file-name completion


def _complete(monkeypatch, capsys, shell: str, words: list[str]) -> list[str]:
    """What gradcalc answers a shell's completion request (click's protocol): words are the
    command line as the shell splits it, the last one being completed."""
    from gradcalc.cli.main import main

    monkeypatch.setenv("_GRADCALC_COMPLETE", f"{shell}_complete")
    if shell == "fish":
        monkeypatch.setenv("COMP_WORDS", " ".join(words[:-1]) + " ")
        monkeypatch.setenv("COMP_CWORD", words[-1])
    else:
        monkeypatch.setenv("COMP_WORDS", " ".join(shlex.quote(w) for w in words))
        monkeypatch.setenv("COMP_CWORD", str(len(words) - 1))
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main([])
    return capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("option", ["--points", "-f", "--file", "--graph", "--output",
                                    "--claims"])
@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_a_path_option_completes_file_names(monkeypatch, capsys, option, shell) -> None:
    got = _complete(monkeypatch, capsys, shell, ["gradcalc", "x^2", option, "da"])
    assert got[:2] == ["file", "da"] if shell == "zsh" else got == ["file,da"], got


@pytest.fixture
def files(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("A.npy", "A2.csv", "b.csv", ".hidden.csv"):
        (tmp_path / name).write_text("1\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "X.csv").write_text("1\n")
    return tmp_path


@pytest.mark.parametrize("shell, words, expected", [
    # zsh and fish hand over the whole word and replace it whole
    ("zsh", ["--at", "X=@A"], ["X=@A.npy", "X=@A2.csv"]),
    ("fish", ["--at", "X=@A"], ["X=@A.npy", "X=@A2.csv"]),
    ("zsh", ["--at", "y=2,X=@"], ["y=2,X=@A.npy", "y=2,X=@A2.csv", "y=2,X=@b.csv",
                                  "y=2,X=@data/"]),
    ("fish", ["--at", "X=@data/"], ["X=@data/X.csv"]),
    # bash splits at '=' (COMP_WORDBREAKS) and replaces only the part after it
    ("bash", ["--at", "X", "=", "@A"], ["@A.npy", "@A2.csv"]),
    ("bash", ["--at", "y", "=", "2,X", "=", "@d"], ["@data/"]),
    ("bash", ["--at", "X", "=", "@."], ["@.hidden.csv"]),
    # not after '@': a value, nothing to complete
    ("zsh", ["--at", "X=1"], []),
    ("bash", ["--at", "X", "=", "1"], []),
])
def test_at_name_file_completes_file_names(monkeypatch, capsys, files, shell, words,
                                           expected) -> None:
    got = _complete(monkeypatch, capsys, shell, ["gradcalc", "sum(X)", *words])
    if shell == "zsh":
        values = [got[k + 1] for k in range(0, len(got), 3) if got[k] == "plain"]
    else:
        values = [g.split(",", 1)[1] for g in got if g.startswith("plain,")]
    assert values == expected, got


@needs_script
def test_bash_completion_script_answers_at_file(files) -> None:
    # the script bash sources, run by bash itself on the words bash would make
    script = subprocess.run([EXE], env={**os.environ, "_GRADCALC_COMPLETE": "bash_source"},
                            capture_output=True, text=True, timeout=60).stdout
    cmd = (script + "\nCOMP_WORDS=(gradcalc 'sum(X)' --at X = @A); COMP_CWORD=5\n"
           "_gradcalc_completion gradcalc\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    proc = subprocess.run(["bash", "--norc", "-c", cmd], capture_output=True, text=True,
                          timeout=60, cwd=files)
    assert proc.stdout.split() == ["@A.npy", "@A2.csv"], proc.stderr
