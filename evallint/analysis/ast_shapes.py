"""Shapes the indexer reads off CPython ``ast`` nodes: literals, the names an assignment or a
function's signature binds, and the model a parameter-freezing loop freezes."""

from __future__ import annotations

import ast

from evallint.analysis import ir
from evallint.analysis.names import chain_of, key_of_chain

# What ``literal_of`` gives for anything that is not a literal (None is one).
NO_LITERAL = object()


def literal_of(expr: ast.AST) -> object:
    if type(expr) is ast.Constant and type(expr.value) in _LITERAL_TYPES:
        return expr.value
    return NO_LITERAL


_LITERAL_TYPES = frozenset({bool, int, float, str, type(None)})


def literal_defaults(args: ast.arguments) -> tuple[tuple[str, object], ...]:
    """The parameters whose default is a literal, with it."""
    positional = [*args.posonlyargs, *args.args]
    pairs = [*zip(positional[len(positional) - len(args.defaults) :], args.defaults)]
    pairs += [(arg, default) for arg, default in zip(args.kwonlyargs, args.kw_defaults) if default is not None]
    return tuple((arg.arg, literal) for arg, literal in ((a, literal_of(d)) for a, d in pairs) if literal is not NO_LITERAL)


def slice_source(node: ast.expr) -> str | None:
    """``items[a:b]``: the chain sliced (a new list of some of its items); None for anything else."""
    if type(node) is ast.Subscript and type(node.slice) is ast.Slice:
        return chain_of(node.value)
    return None


def dict_display(node: ast.expr) -> ir.DictDisplay | None:
    """A dict display key by key (see ``ir.DictDisplay``); None for any other expression."""
    if type(node) is not ast.Dict:
        return None
    entries = []
    complete = True
    for key, item in zip(node.keys, node.values):
        literal = literal_of(key) if key is not None else NO_LITERAL
        if literal is NO_LITERAL:
            complete = False
            continue
        nested = dict_display(item)
        if nested is not None:
            entries.append((literal, nested))
            continue
        constant = literal_of(item)
        chain = chain_of(item) if constant is NO_LITERAL else None
        entries.append((literal, ir.ConstValue(constant) if constant is not NO_LITERAL else ir.RefValue(chain) if chain else ir.OTHER))
    return ir.DictDisplay(tuple(entries), complete)


def item_written(target: ast.expr) -> set[str]:
    """``cfg["p"] = 0.1``, ``cfg["a"]["b"] = 1``, ``del cfg["p"]``: the chain whose items change."""
    if not isinstance(target, ast.Subscript):
        return set()
    while isinstance(target, ast.Subscript):
        target = target.value
    chain = chain_of(target)
    return {chain} if chain else set()


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
    owner = _parameters_owner(node)
    if owner is None or _skips_some(node.body):
        return None
    return owner if any(_freezes(statement) for statement in node.body) else None


def partly_frozen_params_of(node: ast.For | ast.AsyncFor) -> str | None:
    """``for name, p in X.named_parameters(): if name not in head: p.requires_grad = False``
    freezes X but for the parameters a condition spares (a linear probe's head)."""
    owner = _parameters_owner(node)
    if owner is None:
        return None
    for statement in node.body:
        if type(statement) is ast.If and any(_freezes(s) for s in (*statement.body, *statement.orelse)):
            return owner
        if _freezes(statement) and _skips_some(node.body):
            return owner
    return None


def _parameters_owner(node: ast.For | ast.AsyncFor) -> str | None:
    """X of a loop over ``X.parameters()`` or ``X.named_parameters()``."""
    iterable = node.iter
    if not (isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Attribute)):
        return None
    if iterable.func.attr not in ("parameters", "named_parameters"):
        return None
    owner = chain_of(iterable.func.value)
    return key_of_chain(owner) if owner is not None else None


def _freezes(statement: ast.stmt) -> bool:
    """``p.requires_grad = False`` or ``p.requires_grad_(False)``."""
    if isinstance(statement, ast.Assign) and literal_of(statement.value) is False:
        return any(isinstance(target, ast.Attribute) and target.attr == "requires_grad" for target in statement.targets)
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        func, args = statement.value.func, statement.value.args
        return isinstance(func, ast.Attribute) and func.attr == "requires_grad_" and bool(args) and literal_of(args[0]) is False
    return False


def _skips_some(body: list[ast.stmt]) -> bool:
    """``if "fc" in name: continue`` before the freeze: some parameters are spared."""
    return any(type(s) is ast.If and any(type(inner) is ast.Continue for inner in s.body) for s in body)


def keys_iterated(iterable: ast.expr) -> str | None:
    """The container whose every key a loop runs over: `models`, `models.keys()`,
    `range(len(models))`; None for anything else."""
    if type(iterable) is ast.Call and not iterable.keywords:
        func = iterable.func
        if type(func) is ast.Attribute and func.attr == "keys" and not iterable.args:
            iterable = func.value
        elif type(func) is ast.Name and func.id == "range" and len(iterable.args) == 1:
            sized = iterable.args[0]
            if not (type(sized) is ast.Call and type(sized.func) is ast.Name and sized.func.id == "len" and len(sized.args) == 1):
                return None
            iterable = sized.args[0]
        else:
            return None
    chain = chain_of(iterable)
    return key_of_chain(chain) if chain is not None else None
