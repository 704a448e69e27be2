"""Where the results of calls go inside one function: to a backward pass, to the return, or nowhere.

This is the data-flow half of "what is training and what is evaluation" (``roles`` reads it).
A forward whose output reaches ``backward()`` is a training forward; one whose output stays in
the function (metrics, predictions, prints) is not. For example::

    out = model(x)                  # call 1
    loss = criterion(out, y)        # call 2: computed from call 1
    loss.backward()                 # a sink: calls 1 and 2 reach a backward
    val_out = model(val_x)          # call 3: reaches nothing
    return val_out.argmax(1)        # call 3 reaches the return (its callers decide)

The walk keeps, for each variable, the calls its value was computed from. Branches merge by
union and loop bodies are walked twice, so a value carried to the next iteration is seen; the
answer errs towards "reaches a backward", which keeps a forward out of evaluation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from evallint.analysis import ir

Env = dict[str, frozenset[int]]
_EMPTY: frozenset[int] = frozenset()


@dataclass(frozen=True)
class OutputFlow:
    to_backward: frozenset[int]  # calls whose results reach a backward pass in this function
    to_return: frozenset[int]  # calls whose results reach a ``return`` or ``yield``
    # Calls whose results are written into an attribute or an item (`self.fake = G(z)`), where
    # code that runs after this function returns may still read them.
    to_store: frozenset[int]
    sinks: frozenset[int]  # the backward calls, and calls of project functions that train
    # Calls between a training forward and the backward that consumes it, in the same loop
    # iteration: they sit inside a training step even when their own output is dropped.
    in_step: frozenset[int]
    places: dict  # call -> (the loops around it, outermost first; its position in the body)
    sources: dict  # call -> the calls its receiver and arguments were computed from (itself included)
    # The parameters whose values reach a backward here (`finish_episode(values)` backpropagates
    # the values it is given): a caller's call hands those arguments to a backward.
    backpropagated_params: frozenset[str] = frozenset()


# Methods that put their arguments into their receiver (`outputs.append(model(x))`).
_FILLING_METHODS = frozenset({"append", "extend", "insert", "add", "update", "put", "push", "setdefault", "appendleft"})

# Methods whose result carries no autograd graph: what passed through them reaches no backward,
# in this function or in a caller it is returned to.
GRAPH_CUTTING_METHODS = frozenset({"detach", "numpy", "item", "tolist"})

BACKWARD = 1  # the call backpropagates its operands (`loss.backward()`)
TRAINS = 2  # the call trains inside (a project function with its own backward); operands are data


def graph_returns(body: tuple[ir.Stmt, ...], sink_kind: Callable[[ir.Call], int]) -> frozenset[int]:
    """The calls whose autograd graph may leave the function through a ``return`` or ``yield``:
    ``return model(x).detach().numpy()`` returns data computed from the forward, not its graph.
    (Only returns are judged so: inside a function, a detached value still tells the backward
    what it trains on, and the data flow errs towards a backward.)"""
    walk = _Walk(sink_kind, cut_graph=True)
    walk.block(body, {})
    return frozenset(walk.to_return)


def output_flow(
    body: tuple[ir.Stmt, ...],
    sink_kind: Callable[[ir.Call], int],
    params: tuple[str, ...] = (),
    trained_arguments: Callable[[ir.Call], list] | None = None,
) -> OutputFlow:
    """Where the results of a function's calls go. ``params`` are followed too, each as a source
    of its own (numbered below zero); ``trained_arguments`` gives the arguments of a call of a
    project function that trains (``TRAINS``) that reach its backward."""
    walk = _Walk(sink_kind, trained_arguments=trained_arguments)
    walk.block(body, {param: frozenset({-number}) for number, param in enumerate(params, 1)})
    in_step = set()
    for sink_loops, sink_order, first in walk.steps:
        for node, (loops, order) in walk.places.items():
            if first < order < sink_order and (not loops or loops[-1] in sink_loops):
                in_step.add(node)
    backpropagated = frozenset(param for number, param in enumerate(params, 1) if -number in walk.to_backward)
    sources = {node: _calls(found) for node, found in walk.call_sources.items()} if params else walk.call_sources
    return OutputFlow(
        _calls(walk.to_backward), _calls(walk.to_return), _calls(walk.to_store), frozenset(walk.sinks),
        frozenset(in_step), walk.places, sources, backpropagated,
    )


def _calls(nodes) -> frozenset[int]:
    """The call nodes among sources, without the parameters' numbers below zero."""
    return frozenset(node for node in nodes if node >= 0)


class _Walk:
    def __init__(
        self, sink_kind: Callable[[ir.Call], int], cut_graph: bool = False,
        trained_arguments: Callable[[ir.Call], list] | None = None,
    ) -> None:
        self.sink_kind = sink_kind
        self.trained_arguments = trained_arguments
        self.cut_graph = cut_graph
        self.call_sources: dict[int, frozenset[int]] = {}
        self.to_backward: set[int] = set()
        self.to_return: set[int] = set()
        self.to_store: set[int] = set()
        self.sinks: set[int] = set()
        self.loops: tuple[int, ...] = ()  # the loops around the statement being walked
        self.places: dict[int, tuple[tuple[int, ...], int]] = {}  # call -> (its loops, its order)
        self.steps: list[tuple[tuple[int, ...], int, int]] = []  # (loops, order, first source's order)
        # Every key with an entry below it (`out` once `out.logits` is written): only those look
        # for children in ``_lookup``, which otherwise reads the whole environment.
        self.parents: set[str] = set()

    def write(self, env: Env, key: str, sources: frozenset[int]) -> None:
        env[key] = sources
        if "." in key or "[" in key:
            self.to_store.update(sources)
            for cut, char in enumerate(key):
                if char == "." or char == "[":
                    self.parents.add(key[:cut])

    def block(self, body, env: Env) -> Env:
        for stmt in body:
            env = self.statement(stmt, env)
        return env

    def statement(self, stmt, env: Env) -> Env:
        kind = type(stmt)
        if kind is ir.Call:
            self.call(stmt, env)
        elif kind is ir.Assign:
            sources = self.sources(stmt.value, env)
            for target in stmt.targets:
                if target is not None:
                    self.write(env, target, sources)
        elif kind is ir.Return:
            self.to_return.update(self.sources(stmt.value, env))
        elif kind is ir.If:
            env = _merge(self.block(stmt.body, dict(env)), self.block(stmt.orelse, dict(env)))
        elif kind is ir.Loop:
            sources = self.sources(stmt.source, env)
            for target in stmt.targets:
                self.write(env, target, env.get(target, _EMPTY) | sources)
            outer = self.loops
            self.loops = (*outer, stmt.node)
            for _ in range(2):
                env = _merge(env, self.block(stmt.body, dict(env)))
            self.loops = outer
            env = _merge(env, self.block(stmt.orelse, dict(env)))
        elif kind is ir.With:
            for item in stmt.items:
                if item.call is not None:
                    sources = self.call(item.call, env)
                    if item.target is not None:
                        self.write(env, item.target, sources)
            env = self.block(stmt.body, env)
        elif kind is ir.Try:
            after = self.block(stmt.body, dict(env))
            merged = _merge(env, after)
            for handler in stmt.handlers:
                merged = _merge(merged, self.block(handler, dict(merged)))
            merged = _merge(merged, self.block(stmt.orelse, dict(after)))
            env = self.block(stmt.finalbody, merged)
        elif kind is ir.Yield:
            # The yielded value is not kept in the IR: whatever the generator computed may leave.
            for sources in env.values():
                self.to_return.update(sources)
        return env

    def call(self, call: ir.Call, env: Env) -> frozenset[int]:
        found = {call.node}
        if call.receiver is not None:
            found |= self.sources(call.receiver, env)
        arguments: set[int] = set()
        for value in call.args:
            arguments |= self.sources(value, env)
        for _, value in call.kwargs:
            arguments |= self.sources(value, env)
        found |= arguments
        if self.cut_graph and call.method in GRAPH_CUTTING_METHODS:
            found = {call.node}
        sources = frozenset(found)
        self.call_sources[call.node] = sources
        place = self.places.setdefault(call.node, (self.loops, len(self.places)))
        if call.method in _FILLING_METHODS and isinstance(call.receiver, ir.RefValue) and arguments:
            # `outputs.append(model(x))`, `meter.update(loss)`: the receiver now holds the arguments.
            key = call.receiver.key
            self.write(env, key, env.get(key, _EMPTY) | arguments)
        kind = self.sink_kind(call)
        if kind:
            self.sinks.add(call.node)
        if kind == BACKWARD:
            self.to_backward.update(sources)
            orders = [self.places[node][1] for node in sources if node in self.places and node != call.node]
            if orders:
                self.steps.append((place[0], place[1], min(orders)))
        elif kind == TRAINS and self.trained_arguments is not None:
            for value in self.trained_arguments(call):
                self.to_backward.update(self.sources(value, env))
        return sources

    def sources(self, value, env: Env) -> frozenset[int]:
        kind = type(value)
        if kind is ir.RefValue:
            return _lookup(value.key, env, value.key in self.parents)
        if kind is ir.CallValue:
            return self.call_sources.get(value.node, frozenset({value.node}))
        if kind is ir.TupleValue or kind is ir.MixValue:
            items = value.items if kind is ir.TupleValue else value.parts
            found: frozenset[int] = _EMPTY
            for item in items:
                found = found | self.sources(item, env)
            return found
        if kind is ir.CondValue:
            found = _EMPTY
            for dep in value.deps:
                found = found | _lookup(dep, env, dep in self.parents)
            return found
        return _EMPTY


def _lookup(key: str, env: Env, has_children: bool = True) -> frozenset[int]:
    """What ``key`` was computed from: its own entry, its closest ancestor's (``out.logits`` from
    ``out``), and its children's (``outputs`` from ``outputs[0]``; ``has_children`` False says
    there are none)."""
    if not env:
        return _EMPTY
    found = env.get(key, _EMPTY)
    cut = len(key)
    while True:
        cut = max(key.rfind(".", 0, cut), key.rfind("[", 0, cut))
        if cut <= 0:
            break
        parent = env.get(key[:cut])
        if parent is not None:
            found = found | parent
            break
    if not has_children:
        return found
    dotted, indexed = key + ".", key + "["
    for other, sources in env.items():
        if other.startswith(dotted) or other.startswith(indexed):
            found = found | sources
    return found


def _merge(a: Env, b: Env) -> Env:
    if a is b:
        return a
    merged = dict(a)
    for key, sources in b.items():
        mine = merged.get(key)
        merged[key] = sources if mine is None else mine | sources
    return merged
