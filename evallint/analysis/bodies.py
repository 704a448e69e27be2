"""Function bodies as flat sequences: every statement (nested blocks included), every call,
and the values a statement reads. Walks of the IR that depend on nothing but the code."""

from __future__ import annotations

from evallint.analysis import ir
from evallint.analysis.names import key_of_chain


def const(value) -> object:
    """The literal of a constant value, None for anything else."""
    return value.value if isinstance(value, ir.ConstValue) else None


def values_of(stmt):
    """The values a statement reads (arguments, receivers, assigned and returned values)."""
    if isinstance(stmt, ir.Call):
        yield from stmt.args
        yield from (value for _, value in stmt.kwargs)
        if stmt.receiver is not None:
            yield stmt.receiver
    elif isinstance(stmt, (ir.Assign, ir.Return)):
        value = stmt.value
        yield value
        if isinstance(value, ir.TupleValue):
            yield from value.items
    elif isinstance(stmt, ir.With):
        for item in stmt.items:
            if item.call is not None:
                yield from values_of(item.call)
    elif isinstance(stmt, ir.BareAttribute) and stmt.receiver is not None:
        yield ir.RefValue(stmt.receiver)
    elif isinstance(stmt, ir.Reveal) and stmt.key is not None:
        yield ir.RefValue(stmt.key)
    elif isinstance(stmt, ir.If) and stmt.cond is not None:
        for dep in stmt.cond.deps:
            yield ir.RefValue(dep)


def flatten(body) -> tuple[ir.Stmt, ...]:
    flat: list[ir.Stmt] = []
    _flatten_into(body, flat)
    return tuple(flat)


def _flatten_into(body, flat: list) -> None:
    for stmt in body:
        flat.append(stmt)
        kind = type(stmt)
        if kind not in _BLOCKS:  # nine statements in ten: a call or an assignment
            continue
        if kind is ir.If or kind is ir.Loop:
            _flatten_into(stmt.body, flat)
            _flatten_into(stmt.orelse, flat)
        elif kind is ir.With:
            _flatten_into(stmt.body, flat)
        else:
            _flatten_into(stmt.body, flat)
            for handler in stmt.handlers:
                _flatten_into(handler, flat)
            _flatten_into(stmt.orelse, flat)
            _flatten_into(stmt.finalbody, flat)


# The statements that hold blocks of statements (the IR's records are never subclassed).
_BLOCKS = frozenset({ir.If, ir.Loop, ir.With, ir.Try})


def calls_in(statements):
    """The calls among already flattened statements (``with`` items' calls included)."""
    for stmt in statements:
        if isinstance(stmt, ir.Call):
            yield stmt
        elif isinstance(stmt, ir.With):
            for item in stmt.items:
                if item.call is not None:
                    yield item.call


def chains_in(statements):
    """Every dotted name the statements call or read."""
    for stmt in statements:
        kind = type(stmt)
        if kind is ir.Call:
            if stmt.func is not None:
                yield stmt.func
            yield from references_in([stmt.receiver, *stmt.arguments])
        elif kind is ir.Assign or kind is ir.Return:
            yield from references_in([stmt.value])


def references_in(values):
    """The keys of the references among ``values``, inside tuples and mixed values too."""
    for value in values:
        if isinstance(value, ir.RefValue):
            yield value.key
        elif isinstance(value, (ir.TupleValue, ir.MixValue)):
            yield from references_in(value.items if isinstance(value, ir.TupleValue) else value.parts)


def forward_key(call: ir.Call) -> str:
    """The reference a call runs: ``model`` for ``model(x)`` and ``model.forward(x)``."""
    if call.method in ("forward", "generate") and isinstance(call.receiver, ir.RefValue):
        return call.receiver.key
    return key_of_chain(call.func) if call.func else ""
