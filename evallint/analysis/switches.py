"""Switches: the transfer functions that turn grad on or off and set a model's mode.

Grad contexts (``with torch.no_grad():``, ``set_grad_enabled(flag)``, a project's generator
context manager) are entered and left with their ``with`` items; ``model.eval()`` and
``model.train(flag)`` set the mode. A switch on a condition (``train(phase == "train")``)
gives both values, each guarded by the condition, so correlated switches stay correlated.
"""

from __future__ import annotations

from evallint.analysis import ir, torch_api
from evallint.analysis.bodies import const
from evallint.analysis.lattice import (
    CONTEXT,
    EVAL,
    GRAD_OFF,
    GRAD_ON,
    SET_BY_CALL,
    TRAIN,
    UNKNOWN,
    UNRESOLVED,
    Facts,
    Poss,
    State,
)
from evallint.analysis.records import (
    ExitContextManager,
    ExitStackMark,
    RestoreGrad,
    WithToken,
)


class Switches:
    """The interpreter's transfer functions for grad and mode switches (a mixin of
    ``Interpreter``, whose state they read)."""

    def enter_with_item(self, item: ir.WithItem, state: State) -> tuple[State, WithToken | None]:
        call = item.call
        if item.chain is not None:
            name = self.project.qualify(self.file, item.chain)
            if name in torch_api.GRAD_CONTEXT_FACTORIES or name in torch_api.SET_GRAD_ENABLED:
                # `with torch.no_grad:` raises TypeError: the block never runs.
                return State.unreachable(), None
        if call is None or call.func is None:
            return state, None
        name = self.project.qualify(self.file, call.func)
        if name.endswith("ExitStack"):
            return state, ExitStackMark(len(self.exit_stack))
        grad = self.grad_switch(name, call)
        if grad is not None:
            before = state.grad
            state.grad = grad
            return state, RestoreGrad(before)
        target = self.project.resolve(self.fn, call.func, state.types)
        if target in self.project.functions and self.project.functions[target].info.is_generator:
            entry, mapping = self.callee_entry(target, call, state, None)
            summary = self.analyzer.analyze(target, entry, self.context(), self.here(call))
            if summary is not None and summary.yielded is not None:
                self.map_back(summary.yielded, mapping, state)
                return state, ExitContextManager(summary, tuple(mapping))
        self.lower_unresolved(call, state)
        return state, None

    def exit_with_item(self, item: ir.WithItem, token: WithToken | None, state: State) -> State:
        if isinstance(token, RestoreGrad):
            state.grad = token.grad
        elif isinstance(token, ExitContextManager):
            if not token.summary.exit.dead:
                self.map_back(token.summary.exit, token.mapping, state)
        elif isinstance(token, ExitStackMark):
            # Leaving `with ExitStack() as stack:` exits what was entered on it, last first.
            for entered in reversed(self.exit_stack[token.depth :]):
                state = self.exit_with_item(item, entered, state)
            del self.exit_stack[token.depth :]
        return state

    def grad_switch(self, name: str, call: ir.Call) -> Facts | None:
        """The grad facts a grad context or ``set_grad_enabled`` call switches to, if it is one."""
        first = call.args[0] if call.args else dict(call.kwargs).get("mode")
        if name in torch_api.GRAD_OFF_CONTEXTS:
            if const(first) is False:
                return None
            return frozenset({Poss(GRAD_OFF, self.origin(CONTEXT, call.node, name))})
        if name in torch_api.GRAD_ON_CONTEXTS:
            return frozenset({Poss(GRAD_ON, self.origin(CONTEXT, call.node, name))})
        if name in torch_api.SET_GRAD_ENABLED:
            return self.boolean_facts(first, GRAD_ON, GRAD_OFF, CONTEXT, call.node, name, {})
        return None

    def boolean_facts(self, value, when_true: str, when_false: str, kind: str, node: int, detail: str, saved,
                      receiver: str = "") -> Facts:
        constant = const(value)
        if constant is True or constant is False:
            origin = self.origin(kind, node, detail, receiver)
            return frozenset({Poss(when_true if constant else when_false, origin, self.guard())})
        if isinstance(value, ir.RefValue) and value.key in saved:
            return saved[value.key]
        cond = None
        if isinstance(value, ir.CondValue):
            cond = value
        elif isinstance(value, ir.RefValue):
            cond = ir.CondValue(value.key, (value.key.split(".")[0],))
        if cond is not None:
            origin = self.origin(kind, node, detail, receiver)
            return frozenset(
                {
                    Poss(when_true, origin, (cond.text, not cond.negated, cond.deps)),
                    Poss(when_false, origin, (cond.text, cond.negated, cond.deps)),
                }
            )
        return frozenset({Poss(UNKNOWN, self.origin(UNRESOLVED, node, detail))})

    def mode_facts(self, call: ir.Call, state: State) -> Facts:
        # Under `if was_training:` a switch restores the mode saved before an evaluation: it is
        # no choice made for what follows, so it carries no guard (EVL101 reads guards as choices).
        guard = self.guard()
        if guard and guard[0] in state.saved_flag_keys:
            guard = ()
        receiver = call.receiver.key if isinstance(call.receiver, ir.RefValue) else ""
        if call.method == "eval":
            return frozenset({Poss(EVAL, self.origin(SET_BY_CALL, call.node, "eval()", receiver), guard)})
        value = call.args[0] if call.args else dict(call.kwargs).get("mode")
        if value is None:
            return frozenset({Poss(TRAIN, self.origin(SET_BY_CALL, call.node, "train()", receiver), guard)})
        if isinstance(value, ir.TrainingFlagValue):
            return state.mode_of(state.canonical(value.key))
        if isinstance(value, ir.CondValue):
            detail = f"train({'not ' if value.negated else ''}{value.text})"
        elif isinstance(value, ir.RefValue):
            detail = f"train({value.key})"
        else:
            detail = "train(False)" if const(value) is False else "train()"
        return self.boolean_facts(value, TRAIN, EVAL, SET_BY_CALL, call.node, detail, state.saved_flags, receiver)

    def switch_mode(self, key: str, call: ir.Call, state: State) -> None:
        state.set_mode(key, self.mode_facts(call, state))
