"""Errors carry the settings they name as data (errors.Setting): the command line words each as
its option, the Python API as the argument its user passes. The expected texts are written out
here, the command line's as they were before the errors carried fields."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import pytest

from gradcalc.engine.evaluate import parse_bindings, run
from gradcalc.errors import SETTINGS, InputError, Setting, Span, UnboundName
from gradcalc.judge.claims import parse_claims, parse_expect
from gradcalc.lang.syntax import parse
from gradcalc.render.words import OPTIONS, option_words

# (what the Python API's user calls, the first line it raises,
#  the same input on the command line, the first line of its error)
CASES: list[tuple[str, Callable[[], Any], str, list[str], str]] = [
    ("unbound", lambda: run(parse("x+z"), {"x": 1.0}),
     "error: unbound name 'z' at column 3; bind it with the binding z=VALUE",
     ["x+z", "--at", "x=1"],
     "error: unbound name 'z' at column 3; bind it with --at z=VALUE"),
    ("wrt", lambda: run(parse("x"), {"x": 1.0}, ["q"]),
     "error: wrt names 'q', which is not bound; bound names: x",
     ["x", "--at", "x=1", "--wrt", "q"],
     "error: --wrt names 'q', which is not bound; bound names: x"),
    ("of", lambda: run(parse("y = x"), {"x": 1.0}, None, "q"),
     "error: of names 'q', which the program never assigns; assigned names: y",
     ["y = x", "--at", "x=1", "--of", "q"],
     "error: --of names 'q', which the program never assigns; assigned names: y"),
    ("binding", lambda: parse_bindings(["x=1+y"]),
     "error: the bindings: 'y' is not a constant in the value of 'x' at column 5; a value may "
     "use numbers, pi, e, operators and functions",
     ["x", "--at", "x=1+y"],
     "error: --at: 'y' is not a constant in the value of 'x' at column 5; a value may use "
     "numbers, pi, e, operators and functions"),
    ("expect", lambda: parse_expect(["c=1"], ["a", "b"]),
     "error: the expected values: 'c' is not a differentiated name at column 1; "
     "differentiated names: a, b",
     ["a*b", "--at", "a=1,b=2", "--expect", "c=1"],
     "error: --expect: 'c' is not a differentiated name at column 1; differentiated names: a, b"),
    ("claim", lambda: parse_claims(["2*x"]),
     "error: the claim: a claim needs the form NAME: FORMULA at column 1; e.g. the claim "
     "'a: an*tax'",
     ["x^2", "--claim", "2*x"],
     "error: --claim: a claim needs the form NAME: FORMULA at column 1; e.g. --claim "
     "'a: an*tax'"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_the_python_api_words_an_error_for_python(case: tuple[Any, ...]) -> None:
    _, call, python, _, _ = case
    with pytest.raises(InputError) as info:
        call()
    text = str(info.value)
    assert text.split("\n")[0] == python
    assert "--" not in text


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_the_command_line_words_the_same_error_with_its_options(case: tuple[Any, ...],
                                                               gradcalc: Any) -> None:
    _, _, _, argv, cli = case
    r = gradcalc(*argv)
    assert r.status == 2 and r.out == ""
    assert r.err.split("\n")[0] == cli


def test_every_setting_a_message_names_is_an_option_of_the_command() -> None:
    from gradcalc.cli.main import command
    from gradcalc.cli.usage import option_table

    assert OPTIONS.keys() == SETTINGS.keys()
    options, _ = option_table(command)
    assert set(OPTIONS.values()) <= options
    assert option_words(Setting("points", "a.csv")) == "--points a.csv"
    assert option_words(Setting("timeout")) == "--check-timeout"


def test_a_nested_error_keeps_the_settings_of_both() -> None:
    inner = InputError(("needs ", Setting("of", "y1,y2")), hint=("see ", Setting("wrt")))
    outer = InputError((Setting("at"), ": ", *inner.parts, " here"), Span(0, 1), "x",
                       inner.hint_parts)
    assert outer.render(option_words).split("\n")[0] == \
        "error: --at: needs --of y1,y2 here at column 1; see --wrt"
    assert outer.message == "the bindings: needs of y1,y2 here"
    assert outer.hint == "see wrt"


def test_an_error_crosses_processes_whole() -> None:
    # a Dask worker raises it: the settings, span and hint survive pickling
    exc = UnboundName("z", "unbound name 'z'", Span(2, 3), "x+z",
                      ("bind it with ", Setting("at", "z=VALUE")))
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is UnboundName and back.name == "z"
    assert back.render(option_words) == exc.render(option_words)
    assert "--at z=VALUE" in back.render(option_words)
    assert str(back) == str(exc) and "--" not in str(back)


def test_a_reason_names_wrt_as_the_caller_gave_it() -> None:
    reason = run(parse("x*y"), {"x": 1.0, "y": 2.0}, ["y"]).reasons()["x"]
    assert reason.kind == "unwatched"
    assert reason.text == "not watched: wrt leaves x out, so it is held constant at 1"
