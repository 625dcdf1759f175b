"""The parser: precedence, programs, printing, and precise errors."""

from __future__ import annotations

import pytest

from gradcalc.errors import InputError
from gradcalc.lang.syntax import (
    Assign,
    Binary,
    Call,
    Name,
    Num,
    Unary,
    parse,
    parse_expression,
    to_source,
)


@pytest.mark.parametrize("text, expected", [
    ("a+b*c", "a + b * c"),
    ("(a+b)*c", "(a + b) * c"),
    ("-x^2", "-x^2"),
    ("(-x)^2", "(-x)^2"),
    ("x^y^2", "x^y^2"),
    ("(x^y)^2", "(x^y)^2"),
    ("x**y**2", "x^y^2"),
    ("a-b-c", "a - b - c"),
    ("a-(b-c)", "a - (b - c)"),
    ("a/b/c", "a / b / c"),
    ("a/(b*c)", "a / (b * c)"),
    ("2^-1", "2^(-1)"),
    ("max(a, b, c)", "max(a, b, c)"),
    ("log(x, 2)", "log(x, 2)"),
    ("+x", "+x"),
    ("1e-3 + .5 + 2E2", "1e-3 + .5 + 2E2"),
])
def test_round_trip_through_printer(text: str, expected: str) -> None:
    assert to_source(parse_expression(text)) == expected
    # printing is a fixed point: reparsing the printed form prints the same
    assert to_source(parse_expression(expected)) == expected


def test_unary_minus_binds_looser_than_power() -> None:
    tree = parse_expression("-x^2")
    assert isinstance(tree, Unary) and isinstance(tree.operand, Binary)
    assert tree.operand.op == "^"


def test_power_is_right_associative() -> None:
    tree = parse_expression("x^y^2")
    assert isinstance(tree, Binary) and isinstance(tree.left, Name)
    assert isinstance(tree.right, Binary) and tree.right.op == "^"


def test_spans_point_into_source() -> None:
    src = "a + sin(bb)"
    tree = parse_expression(src)
    assert isinstance(tree, Binary)
    call = tree.right
    assert isinstance(call, Call)
    assert src[call.span.start:call.span.end] == "sin(bb)"
    arg = call.args[0]
    assert isinstance(arg, Name) and src[arg.span.start:arg.span.end] == "bb"


def test_program_statements() -> None:
    prog = parse("c = a*b  # product\nc += 1; d = c\n\nd*2")
    kinds = [type(s).__name__ for s in prog.statements]
    assert kinds == ["Assign", "Assign", "Assign", "Binary"]
    assert isinstance(prog.statements[1], Assign) and prog.statements[1].op == "+="


def test_newlines_inside_parentheses_are_whitespace() -> None:
    assert to_source(parse_expression("(a +\n b)")) == "a + b"


def test_number_values() -> None:
    tree = parse_expression("2.5e3")
    assert isinstance(tree, Num) and tree.value == 2500.0


def _error(text: str) -> InputError:
    with pytest.raises(InputError) as info:
        parse(text)
    return info.value


@pytest.mark.parametrize("text, message, column", [
    ("sin(x*)y", "unexpected ')'", 7),
    ("2x", "missing operator", 2),
    ("sni(x)", "unknown function 'sni'", 1),
    ("(x+1", "'(' is never closed", 1),
    ("x)", "unexpected ')'", 2),
    ("atan2(1)", "atan2() takes 2 arguments, got 1", 1),
    ("sin(1, 2)", "sin() takes 1 argument, got 2", 1),
    ("max()", "max() takes 1 or more arguments, got 0", 1),
    ("x +", "expression ends too early", 4),
    ("1e999", "too large", 1),
    ("1.2.3", "malformed number", 1),
    ("x \u2212 1", "write '-' instead", 3),
    ("x == 1", "unexpected '=='", 3),
    ("sin + 1", "'sin' is a function", 1),
    ("a,b", "unexpected ','", 2),
    ("", "empty expression", 1),
    ("x $ y", "unexpected character '$'", 3),
])
def test_errors_name_the_problem_and_column(text: str, message: str, column: int) -> None:
    err = _error(text)
    first = err.render().splitlines()[0]
    assert first.startswith("error: ")
    assert message in first
    if text:
        assert f"column {column}" in first
        caret_line = err.render().splitlines()[2]
        assert caret_line.index("^") - 2 == column - 1


def test_error_suggestions() -> None:
    assert "write 2*x" in _error("2x").render()
    assert "did you mean sin?" in _error("sni(x)").render()
    assert "did you mean sqrt?" in _error("sqt(x)").render()


def test_program_errors_give_line_and_column() -> None:
    first = _error("a = 1\nb = a +* 2").render().splitlines()[0]
    assert "line 2, column 8" in first


def test_only_last_statement_may_be_bare() -> None:
    assert "only the last statement" in _error("x\ny = 2").message


@pytest.mark.parametrize("text", [
    "__import__('os').system('id')",
    "().__class__",
    "lambda: 0",
    "x.real",
    "exec('1')",
    "[x for x in y]",
    "x if y else z",
    "`id`",
    "open('/etc/passwd')",
])
def test_python_syntax_is_rejected(text: str) -> None:
    with pytest.raises(InputError):
        parse(text)


def test_deep_nesting_does_not_recurse() -> None:
    depth = 10_000
    tree = parse_expression("(" * depth + "x" + ")" * depth)
    assert isinstance(tree, Name)
    tree = parse_expression("sin(" * depth + "x" + ")" * depth)
    assert isinstance(tree, Call)
    tree = parse_expression("-" * depth + "x")
    assert isinstance(tree, Unary)


def test_long_chain_does_not_recurse() -> None:
    text = "+".join(["x"] * 20_000)
    assert to_source(parse_expression(text)) == text.replace("+", " + ")


def test_huge_input_is_refused() -> None:
    with pytest.raises(InputError, match="too long"):
        parse("x+" * 600_000 + "x")


def test_long_line_error_is_windowed() -> None:
    text = "x+" * 5000 + ")"
    lines = _error(text).render().splitlines()
    assert len(lines[1]) < 200 and lines[1].strip().startswith("...")
