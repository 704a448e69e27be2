"""The structured flow walk: one pass over a function's IR with snapshot / restore / merge.

A worked example. For

    for epoch in range(3):                 # loop L
        for x, y in train_loader:          # training region (a backward below)
            loss = loss_fn(model(x), y)    # forward: pending[model] = {train@entry}
            loss.backward()                # training step: checks pending forwards
        validate(model)                    # callee sets eval: modes[model] = {eval@validate}

the first pass over L's body ends with ``model`` in eval. The loop head joins
the entry state ``{train@entry}`` with the back-edge state ``{eval@validate}``
(marked as carried over L), the body is walked again, and now the forward in
the training loop sees ``{train, eval}``: the backward finds a pending forward
that may be in eval mode, an ``EVL102`` fact. Had the training loop started
with ``model.train()``, the forward would see only ``{train@train()}``.

Branches copy the state and join the results; ``break`` / ``continue`` /
``return`` hand their state to the enclosing frame; ``try`` sends the states of
its body to the handlers and runs ``finally`` on every way out; ``with``
restores the grad mode on every exit of the block. A loop's body is walked again
while its head state changes, for at most ``MAX_LOOP_ITERATIONS`` passes; a head
still growing then is taken as it stands.

The walker does not know what events mean: ``Interpreter`` (summaries.py)
implements ``on_call``, ``on_assign`` and the other transfer functions.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field

from evallint.analysis import ir
from evallint.analysis.lattice import PASSED_THROUGH, Poss, State, join_all

MAX_LOOP_ITERATIONS = 6
_RANGE = re.compile(r"^range\((?:(\d+)\s*,\s*)?(\d+)\)$")


def _trains(region) -> bool:
    return region is not None and region.kind in ("train", "managed-train")


def _runs_at_least_once(loop: ir.Loop) -> bool:
    if loop.over_entries_of is not None:
        return True
    if loop.frozen_params_of is not None or loop.partly_frozen_params_of is not None:
        return True  # a loop that freezes a module's parameters: what it freezes has some
    match = None if loop.is_while else _RANGE.match(loop.iter_text)
    return match is not None and int(match.group(2)) > int(match.group(1) or 0)


@dataclass
class _LoopFrame:
    breaks: list[State] = field(default_factory=list)
    continues: list[State] = field(default_factory=list)
    with_depth: int = 0


@dataclass
class Region:
    """An evaluation or training region: a function, a loop, or a grad-off ``with`` block."""

    kind: str  # "eval", "train", "managed-eval", "managed-train", "neutral"
    file: str
    node: int
    label: str  # "validate()", "the loop over val_loader"
    is_loop: bool = False


class Walker:
    """Walks one function body. Subclasses give events their meaning."""

    def __init__(self) -> None:
        self.returns: list[State] = []
        self.yields: list[State] = []
        self.loops: list[_LoopFrame] = []
        self.path: list[tuple[str, bool, tuple[str, ...]]] = []
        # Grad modes to restore when leaving `with` blocks early: (loop depth, grad before).
        self.with_grads: list[tuple[int, frozenset]] = []

    # -- hooks -------------------------------------------------------------------------

    def on_call(self, call: ir.Call, state: State) -> State:
        return state

    def on_assign(self, assign: ir.Assign, state: State) -> State:
        return state

    def on_return(self, stmt: ir.Return, state: State) -> None:
        pass

    def on_reveal(self, stmt: ir.Reveal, state: State) -> None:
        pass

    def enter_with_item(self, item: ir.WithItem, state: State) -> tuple[State, object]:
        """Apply entering a with item; return the state and a token for ``exit_with_item``."""
        return state, None

    def exit_with_item(self, item: ir.WithItem, token: object, state: State) -> State:
        return state

    def refine(self, cond: ir.CondValue, truth: bool, state: State) -> State:
        """Narrow the state on entering a branch where ``cond`` is ``truth``."""
        return state

    def runs_at_least_once(self, loop: ir.Loop) -> bool:
        """`for epoch in range(10):` runs its body at least once (subclasses know constants)."""
        return _runs_at_least_once(loop)

    def loop_region(self, loop: ir.Loop) -> Region | None:
        return None

    def with_region(self, stmt: ir.With, state: State) -> Region | None:
        return None

    def push_region(self, region: Region) -> None:
        pass

    def pop_region(self) -> None:
        pass

    def on_loop_targets(self, loop: ir.Loop, state: State) -> State:
        return state

    # -- the walk ---------------------------------------------------------------------------

    def walk(self, body: tuple[ir.Stmt, ...], state: State) -> State:
        for stmt in body:
            if state.dead:
                return state
            state = self.step(stmt, state)
        return state

    def step(self, stmt: ir.Stmt, state: State) -> State:
        kind = type(stmt)
        if kind is ir.Call:
            return self.on_call(stmt, state)  # type: ignore[arg-type]
        if kind is ir.Assign:
            return self.on_assign(stmt, state)  # type: ignore[arg-type]
        if kind is ir.If:
            return self._if(stmt, state)  # type: ignore[arg-type]
        if kind is ir.Loop:
            return self._loop(stmt, state)  # type: ignore[arg-type]
        if kind is ir.With:
            return self._with(stmt, state)  # type: ignore[arg-type]
        if kind is ir.Try:
            return self._try(stmt, state)  # type: ignore[arg-type]
        if kind is ir.Return:
            self.on_return(stmt, state)  # type: ignore[arg-type]
            self.returns.append(self._leave_withs(state, 0))
            return State.unreachable()
        if kind is ir.Raise:
            return State.unreachable()
        if kind is ir.Break:
            if self.loops:
                frame = self.loops[-1]
                frame.breaks.append(self._leave_withs(state, frame.with_depth))
            return State.unreachable()
        if kind is ir.Continue:
            if self.loops:
                frame = self.loops[-1]
                frame.continues.append(self._leave_withs(state, frame.with_depth))
            return State.unreachable()
        if kind is ir.Yield:
            self.yields.append(state.copy())
            return state
        if kind is ir.Reveal:
            self.on_reveal(stmt, state)  # type: ignore[arg-type]
            return state
        return state  # BareAttribute and anything without an effect on the state

    def _leave_withs(self, state: State, depth: int) -> State:
        """Leaving ``with`` blocks opened at or below ``depth`` restores the grad mode they found."""
        if len(self.with_grads) <= depth:
            return state
        restored = state.copy()
        restored.grad = self.with_grads[depth][1]
        return restored

    def _if(self, stmt: ir.If, state: State) -> State:
        cond = stmt.cond
        body_in, else_in = state.copy(), state.copy()
        if cond is not None:
            body_in = self.refine(cond, True, body_in)
            else_in = self.refine(cond, False, else_in)
            self.path.append((cond.text, not cond.negated, cond.deps))
        body = self.walk(stmt.body, body_in)
        if cond is not None:
            self.path[-1] = (cond.text, cond.negated, cond.deps)
        orelse = self.walk(stmt.orelse, else_in)
        if cond is not None:
            self.path.pop()
            if not self.loops:
                # (In a loop body the marks would differ on every pass: the head would not settle.)
                _mark_passed_branch(cond, state, body, orelse)
        return body.join(orelse)

    def loop_id(self, stmt: ir.Loop) -> tuple:
        """What marks a possibility that crossed this loop's back edge."""
        return (stmt.node,)

    def _loop(self, stmt: ir.Loop, state: State) -> State:
        loop_id = self.loop_id(stmt)
        region = self.loop_region(stmt)
        head = state
        frame = _LoopFrame()
        for _ in range(MAX_LOOP_ITERATIONS):
            frame = _LoopFrame(with_depth=len(self.with_grads))
            self.loops.append(frame)
            if region is not None:
                self.push_region(region)
            body_in = self.on_loop_targets(stmt, head.copy())
            body_out = self.walk(stmt.body, body_in)
            if region is not None:
                self.pop_region()
            self.loops.pop()
            back = join_all([body_out, *frame.continues])
            # Joined with the head itself, not only the entry: the heads only grow, so the widening
            # in join_facts (one possibility per value past MAX_POSSIBILITIES) cannot make them
            # alternate between a widened and an unwidened state until the iteration limit.
            # Only a training loop's back edge carries a mode "into the next step" (EVL102/EVL103
            # read it); crossing any other loop's leaves a mode as set here.
            carried = back.mark_carried(loop_id) if _trains(region) else back
            new_head = head.join(carried) if not back.dead else head
            if new_head.same_as(head):
                break
            head = new_head
        if stmt.infinite:
            exit_state = join_all(frame.breaks)
        else:
            # `for epoch in range(10):` runs its body at least once: leaving it never skips it.
            if self.runs_at_least_once(stmt) and not back.dead:
                after = back.mark_carried(loop_id) if _trains(region) else back
            else:
                after = head
            exit_state = self.walk(stmt.orelse, after.copy()).join(join_all(frame.breaks))
        return exit_state

    def _with(self, stmt: ir.With, state: State) -> State:
        tokens = []
        grad_before = state.grad
        for item in stmt.items:
            state, token = self.enter_with_item(item, state)
            tokens.append(token)
        region = self.with_region(stmt, state)
        if region is not None:
            self.push_region(region)
        self.with_grads.append((len(self.loops), grad_before))
        body = self.walk(stmt.body, state)
        self.with_grads.pop()
        if region is not None:
            self.pop_region()
        if body.dead:
            return body
        for item, token in reversed(list(zip(stmt.items, tokens))):
            body = self.exit_with_item(item, token, body)
        return body

    def _try(self, stmt: ir.Try, state: State) -> State:
        returns_before = len(self.returns)
        frame = self.loops[-1] if self.loops else None
        breaks_before = len(frame.breaks) if frame is not None else 0
        continues_before = len(frame.continues) if frame is not None else 0
        seen = [state.copy()]
        body_state = state
        for inner in stmt.body:
            if body_state.dead:
                break
            body_state = self.step(inner, body_state)
            seen.append(body_state.copy())
        handler_entry = join_all(seen)
        handler_outs = [self.walk(handler, handler_entry.copy()) for handler in stmt.handlers]
        else_out = self.walk(stmt.orelse, body_state) if not body_state.dead else body_state
        normal = join_all([else_out, *handler_outs])
        if not stmt.finalbody:
            return normal
        # `finally` runs on the way out of every return, break and continue taken inside the try.
        for index in range(returns_before, len(self.returns)):
            self.returns[index] = self.walk(stmt.finalbody, self.returns[index])
        if frame is not None:
            self._finally_on_exits(stmt, frame.breaks, breaks_before)
            self._finally_on_exits(stmt, frame.continues, continues_before)
        if normal.dead:
            # Every path left early; the finally block still runs on the exceptional ones.
            self.walk(stmt.finalbody, handler_entry.copy())
            return normal
        return self.walk(stmt.finalbody, normal)

    def _finally_on_exits(self, stmt: ir.Try, exits: list[State], start: int) -> None:
        """Run ``finally`` on the loop exits the try body took (a break in ``finally`` itself adds its own)."""
        end = len(exits)
        exits[start:end] = [self.walk(stmt.finalbody, exit_state) for exit_state in exits[start:end]]


def _mark_passed_branch(cond: ir.CondValue, before: State, body: State, orelse: State) -> None:
    """`if encoder is not None: encoder.eval()` sets the mode on one branch only: what the other
    branch kept holds only where the condition was false. Guarding it so lets a later `if` on
    the same condition see through (`if encoder is not None: encoder(x)` runs it in eval)."""
    if body.dead or orelse.dead:
        return
    for key in body.modes.keys() | orelse.modes.keys():
        kept = before.mode_of(key)
        if body.mode_of(key) != kept and orelse.mode_of(key) == kept:
            passed, truth = orelse, cond.negated
        elif orelse.mode_of(key) != kept and body.mode_of(key) == kept:
            passed, truth = body, not cond.negated
        else:
            continue
        guard = (cond.text, truth, cond.deps, PASSED_THROUGH)
        passed.set_mode(key, frozenset(p if p.guard else Poss(p.value, p.origin, guard, p.carried) for p in kept))
