"""Shapes the indexer reads off CPython ``ast`` nodes: literals, the names an assignment or a
function's signature binds, and the model a parameter-freezing loop freezes."""

from __future__ import annotations

import ast

from evallint.analysis.names import chain_of, key_of_chain

# What ``literal_of`` gives for anything that is not a literal (None is one).
NO_LITERAL = object()


def literal_of(expr: ast.AST) -> object:
    if type(expr) is ast.Constant and type(expr.value) in _LITERAL_TYPES:
        return expr.value
    return NO_LITERAL


_LITERAL_TYPES = frozenset({bool, int, float, str, type(None)})


def target_names(target: ast.AST) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        names: list[str] = []
        for element in target.elts:
            names.extend(target_names(element))
        return names
    if isinstance(target, ast.Starred):
        return target_names(target.value)
    return []


def parameter_names(args: ast.arguments) -> tuple[str, ...]:
    names = [a.arg for a in args.posonlyargs] + [a.arg for a in args.args]
    if args.vararg is not None:
        names.append(args.vararg.arg)
    names += [a.arg for a in args.kwonlyargs]
    if args.kwarg is not None:
        names.append(args.kwarg.arg)
    return tuple(names)


def frozen_params_of(node: ast.For | ast.AsyncFor) -> str | None:
    """``for p in X.parameters(): p.requires_grad = False`` freezes X."""
    iterable = node.iter
    if not (isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Attribute)):
        return None
    if iterable.func.attr not in ("parameters", "named_parameters"):
        return None
    owner = chain_of(iterable.func.value)
    if owner is None:
        return None
    for statement in node.body:
        if isinstance(statement, ast.Assign) and literal_of(statement.value) is False:
            for target in statement.targets:
                if isinstance(target, ast.Attribute) and target.attr == "requires_grad":
                    return key_of_chain(owner)
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
            func = statement.value.func
            if isinstance(func, ast.Attribute) and func.attr == "requires_grad_":
                args = statement.value.args
                if args and literal_of(args[0]) is False:
                    return key_of_chain(owner)
    return None
