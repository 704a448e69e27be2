"""Condition texts (the identity of a branch guard, and the words of messages) and the texts of
loops' iterables are what ``ast.unparse`` writes, whether the fast renderer or the fallback
produced them."""

from __future__ import annotations

import ast

import pytest

from evallint.analysis.expression_text import render_condition

from .conftest import REPO

COMMON = [
    "phase == 'train'",
    'phase == "train"',
    "not model.training",
    "a and b and c == 1 and d",
    "a or b or c == 1 or d == 2",
    "x is not None and len(x) > 0",
    "isinstance(model, nn.Module)",
    "cfg['mode'] in ('val', 'test')",
    "a < b <= c",
    "getattr(args, 'eval', False) is True",
    "f(x, key=y)[0] != z",
    "batch[0, 1] == pad",
]
SHAPES = COMMON + [
    "epoch % args.eval_every == 0",
    "self.training and (a or b)",
    "batch[1,] == pad",
    "x == 'multi\\nline'",
    "x == 1.5",
    "(a and b) or c",
    "f(*args)",
    "f(**kwargs) == 1",
    "x.y[z].w == 'é'",
    "log_every(loader, delimiter='  ')",
    # Arithmetic and unary operators, parenthesized where ast.unparse puts parentheses.
    "step % (args.log_every * 2) == 0",
    "a - (b - c) == a - b - c",
    "2 ** 3 ** 2 == (2 ** 3) ** 2",
    "-x ** 2 < (-x) ** 2",
    "(a + b).shape[-1] > 0",
    "not a and (not b or c)",
    "a or (b and c) or not d",
    "(not a) == b",
    "x[i - 1, -1] != x[i,]",
    "~mask & (a | b) ^ c",
    "lr > 0.5 and 1e-05 < eps",
    "u'text' == s",
    "f(-1, key=not flag)",
    "(a, b) == (1,)",
]


def _conditions(source: str):
    """Every expression whose text the index renders: branch tests, comparisons, what loops iterate."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.If, ast.While, ast.IfExp)):
            yield node.test
        elif isinstance(node, (ast.Compare, ast.BoolOp)):
            yield node
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            yield node.iter


def _check(expr: ast.expr) -> None:
    names: set[str] = set()
    text = render_condition(expr, names)
    if text is None:
        return  # the fallback is ast.unparse itself
    assert text == " ".join(ast.unparse(expr).split())
    assert names == {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)}


@pytest.mark.parametrize("source", SHAPES)
def test_rendered_like_unparse(source):
    _check(ast.parse(source, mode="eval").body)


def test_common_shapes_are_rendered_without_the_fallback():
    for source in [*COMMON, "epoch % args.eval_every == 0", "not a and (not b or c)", "lr > 0.5", "i == -1"]:
        assert render_condition(ast.parse(source, mode="eval").body, set()) is not None, source


def test_every_condition_in_the_fixtures_and_test_projects():
    checked = 0
    for path in [*REPO.glob("fixtures/*.py"), *REPO.glob("tests/projects/**/*.py"), *REPO.glob("evallint/**/*.py")]:
        for expr in _conditions(path.read_text(encoding="utf-8")):
            _check(expr)
            checked += 1
    assert checked > 500
