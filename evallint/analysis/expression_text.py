"""Expressions as text, written as ``ast.unparse`` writes them: a branch condition (the key
that correlates switches on the same condition) and what a loop iterates (for messages).

``render_condition`` covers the common shapes at a fraction of ``ast.unparse``'s cost and
gives None for the rest; the callers fall back to ``ast.unparse``.
"""

from __future__ import annotations

import ast
import math

from evallint.analysis import ir


def render_condition(expr: ast.expr, names: set[str]) -> str | None:
    """The text ``ast.unparse`` gives for the common shapes of an expression (names, attributes,
    literals, calls, subscripts, arithmetic, comparisons, ``and``/``or``/``not``), collecting
    the names read; None for anything else (the caller falls back to ``ast.unparse``, which is
    several times slower)."""
    return _render(expr, names, _TEST)


# ast.unparse's precedence levels (``ast._Precedence``), which decide where it writes parentheses.
_TUPLE, _TEST, _OR, _AND, _NOT, _CMP, _EXPR, _BXOR, _BAND, _SHIFT, _ARITH, _TERM, _FACTOR, _POWER = (
    2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
)
_ATOM = 18
_BINARY = {
    ast.Add: ("+", _ARITH), ast.Sub: ("-", _ARITH), ast.Mult: ("*", _TERM), ast.MatMult: ("@", _TERM),
    ast.Div: ("/", _TERM), ast.Mod: ("%", _TERM), ast.FloorDiv: ("//", _TERM), ast.LShift: ("<<", _SHIFT),
    ast.RShift: (">>", _SHIFT), ast.BitOr: ("|", _EXPR), ast.BitXor: ("^", _BXOR), ast.BitAnd: ("&", _BAND),
    ast.Pow: ("**", _POWER),
}
_UNARY = {ast.Not: ("not ", _NOT), ast.Invert: ("~", _FACTOR), ast.UAdd: ("+", _FACTOR), ast.USub: ("-", _FACTOR)}
_COMPARE_OPS = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in",
}


def _render(expr: ast.expr, names: set[str], precedence: int) -> str | None:
    """``expr`` as ast.unparse writes it where its context asks for ``precedence``: an operator
    that binds less tightly than that is parenthesized."""
    kind = type(expr)
    if kind is ast.Name:
        names.add(expr.id)
        return expr.id
    if kind is ast.Attribute:
        if type(expr.value) is ast.Constant:
            return None  # `1 .real`: ast.unparse spaces an integer's attribute apart
        owner = _render(expr.value, names, _ATOM)
        return None if owner is None else f"{owner}.{expr.attr}"
    if kind is ast.Constant:
        return _render_constant(expr)
    if kind is ast.Call:
        func = _render(expr.func, names, _ATOM)
        if func is None:
            return None
        args = [_render(arg, names, _TEST) for arg in expr.args]
        for keyword in expr.keywords:
            if keyword.arg is None:
                return None
            value = _render(keyword.value, names, _TEST)
            args.append(None if value is None else f"{keyword.arg}={value}")
        return None if None in args else f"{func}({', '.join(args)})"  # type: ignore[arg-type]
    if kind is ast.Compare:
        parts = [_render(expr.left, names, _EXPR)]
        for op, comparator in zip(expr.ops, expr.comparators):
            parts.append(_COMPARE_OPS[type(op)])
            parts.append(_render(comparator, names, _EXPR))
        if None in parts:
            return None
        return _parenthesized(" ".join(parts), precedence > _CMP)  # type: ignore[arg-type]
    if kind is ast.BoolOp:
        operator, level = (" and ", _AND) if type(expr.op) is ast.And else (" or ", _OR)
        parenthesized = precedence > level
        parts = []
        for value in expr.values:
            level = min(level + 1, _ATOM)  # each later operand is asked for a higher precedence
            part = _render(value, names, level)
            if part is None:
                return None
            parts.append(part)
        return _parenthesized(operator.join(parts), parenthesized)
    if kind is ast.BinOp:
        symbol, level = _BINARY[type(expr.op)]
        # `**` groups to the right, the others to the left.
        left_level, right_level = (level + 1, level) if symbol == "**" else (level, level + 1)
        left = _render(expr.left, names, left_level)
        right = _render(expr.right, names, right_level)
        if left is None or right is None:
            return None
        return _parenthesized(f"{left} {symbol} {right}", precedence > level)
    if kind is ast.UnaryOp:
        symbol, level = _UNARY[type(expr.op)]
        operand = _render(expr.operand, names, level)
        return None if operand is None else _parenthesized(symbol + operand, precedence > level)
    if kind is ast.Tuple or kind is ast.List:
        items = [_render(item, names, _TEST) for item in expr.elts]
        if None in items:
            return None
        if kind is ast.List:
            return f"[{', '.join(items)}]"  # type: ignore[arg-type]
        return _parenthesized(_items(items), not items or precedence > _TUPLE)  # type: ignore[arg-type]
    if kind is ast.Subscript:
        owner = _render(expr.value, names, _ATOM)
        if type(expr.slice) is ast.Tuple and expr.slice.elts:  # `x[i, j]`: the tuple's parentheses go
            items = [_render(item, names, _TEST) for item in expr.slice.elts]
            index = None if None in items else _items(items)  # type: ignore[arg-type]
        else:
            index = _render(expr.slice, names, _TEST)
        return None if owner is None or index is None else f"{owner}[{index}]"
    return None


def _render_constant(expr: ast.Constant) -> str | None:
    value = expr.value
    if expr.kind is not None:  # u"..."
        return None
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    # A run of spaces inside a string is one space in the normalised text of ast.unparse.
    if isinstance(value, str) and value.isprintable() and "  " not in value:
        return repr(value)
    return None


def _items(items: list[str]) -> str:
    return f"{items[0]}," if len(items) == 1 else ", ".join(items)


def _parenthesized(text: str, needed: bool) -> str:
    return f"({text})" if needed else text


def short_code(expr: ast.expr, limit: int = 60) -> str:
    """What a loop iterates, as ``ast.unparse`` writes it (the condition renderer covers the
    common shapes at a fraction of its cost)."""
    text = render_condition(expr, set())
    if text is None:
        text = " ".join(ast.unparse(expr).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


_MAX_CONDITION_TEXT = 200


def condition_of(expr: ast.expr) -> ir.CondValue | None:
    """A branch's test kept symbolically: its text, the names it reads and whether it is negated."""
    negated = False
    while isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.Not):
        negated = not negated
        expr = expr.operand
    names: set[str] = set()
    text = render_condition(expr, names)
    if text is None:
        names = {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)}
        if names:
            text = " ".join(ast.unparse(expr).split())
    if not names or len(text) > _MAX_CONDITION_TEXT:
        return None
    return ir.CondValue(text, tuple(sorted(names)), negated)
