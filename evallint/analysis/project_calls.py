"""Calls into the project's own functions: the caller's state mapped onto the callee's entry,
the callee's exit mapped back.

The callee's parameters (and ``self``, closures and the module globals it reads) get the
modes, types and pending forwards of what the caller passes; every other parameter gets the
mode of a module built in the argument list itself, or is unknown. On return, what the callee
did to those keys is done to the caller's.
"""

from __future__ import annotations

from evallint.analysis import ir, roles, torch_api
from evallint.analysis.callgraph import (
    BOUND_METHOD_VALUE, FUNCTION_VALUE, FunctionRef, class_of_type, function_of_value, passed_values,
)
from evallint.analysis.facts import CallerInfo
from evallint.analysis.lattice import CONSTRUCTED, TRAIN, Facts, Pending, Poss, State
from evallint.analysis.records import NOT_MODEL, Fresh, Instance, known


class ProjectCalls:
    """The interpreter's transfer functions for calls into project functions (a mixin of
    ``Interpreter``, whose state they read)."""

    def here(self, call: ir.Call) -> CallerInfo:
        return CallerInfo(self.file, call.node, self.fn.info.qualname)

    def callee_entry(self, target: str, call: ir.Call, state: State, receiver: str | None) -> tuple[State, list]:
        callee = self.project.functions[target]
        mapping = self.bind_arguments(callee, call, state, receiver)
        entry = State(entry=self.evidence.entry_origin(callee))
        entry.grad = state.grad
        for callee_key, caller_key in mapping:
            if function_of_value(caller_key) is not None:
                entry.types[callee_key] = caller_key
                continue
            if state.has_mode(caller_key) or self.is_model(caller_key, state):
                entry.modes[callee_key] = state.mode_of(caller_key)
            prefix = caller_key + "."
            for key, facts in state.modes.items():
                if key.startswith(prefix):
                    entry.modes[callee_key + key[len(caller_key) :]] = facts
            for key, target in state.aliases.items():
                # `p = Predictor(net)` stored `net` as `p.model`: `self.model` is `net` in `p.predict()`.
                if key.startswith(prefix) and state.has_mode(target):
                    entry.modes.setdefault(callee_key + key[len(caller_key) :], state.mode_of(target))
            if self.is_frozen(caller_key, state):
                entry.frozen = entry.frozen | {callee_key}
            if self.is_frozen(caller_key, state, partly=True):
                entry.partly_frozen = entry.partly_frozen | {callee_key}
            if caller_key in state.types:
                entry.types[callee_key] = state.types[caller_key]
            for key, type_id in state.types.items():
                # Markers, and the project classes of attributes (`self.model.encode()` resolves).
                if key.startswith(prefix) and (type_id in roles.MARKERS or class_of_type(type_id) in self.project.classes):
                    entry.types[callee_key + key[len(caller_key) :]] = type_id
            for key, pending in state.pending.items():
                if key == caller_key or key.startswith(caller_key + "."):
                    entry.pending[callee_key + key[len(caller_key) :]] = pending
        for key, pending in state.pending.items():
            if not any(key == ck or key.startswith(ck + ".") for _, ck in mapping):
                if key.split(".")[0] not in callee.info.local_names:
                    entry.pending[key] = pending
        # Parameters that received something other than a reference: a module built right there
        # (`validate(Net())`) has a known mode; anything else, or nothing, is unknown here.
        mapped = {callee_key for callee_key, _ in mapping}
        drops_self = receiver is not None or call.method is not None or self.calls_bound_method(call, state)
        values = dict(passed_values(callee, call, drops_self))
        unknown = set()
        for param in callee.info.params:
            if param in mapped:
                continue
            facts = self.value_facts(values.get(param))
            if facts is not None:
                entry.modes[param] = facts
                type_id = self.value_type(values.get(param))
                if type_id is not None:
                    entry.types[param] = type_id
            else:
                unknown.add(param)
        entry.unknown_roots = frozenset(unknown)
        return entry, mapping

    def value_facts(self, value: ir.Value | None) -> Facts | None:
        """The mode of a module built in the argument list itself, if it is one."""
        if not isinstance(value, ir.CallValue):
            return None
        result = known(self.results.get(value.node))
        if isinstance(result, Fresh):
            return result.modes
        if isinstance(result, Instance) and self.evidence.is_model_type(result.class_id) and self.evidence.is_module_class(result.class_id):
            return frozenset({Poss(TRAIN, self.origin(CONSTRUCTED, value.node))})
        return None

    def value_type(self, value: ir.Value | None) -> str | None:
        """The project class (or library kind) of a module built in the argument list itself."""
        result = known(self.results.get(value.node)) if isinstance(value, ir.CallValue) else None
        if isinstance(result, Instance):
            return result.class_id
        return result.type_id if isinstance(result, Fresh) else None

    def bind_arguments(self, callee: FunctionRef, call: ir.Call, state: State, receiver: str | None) -> list:
        params = callee.info.params
        mapping: list[tuple[str, str]] = []
        is_method, is_classmethod = self.evidence.method_kind(callee)
        if is_method and params:
            self_name = params[0]
            if self.calls_bound_method(call, state):
                params = params[1:]  # bound to an instance the caller does not name
            elif receiver is not None:
                mapping.append((self_name, receiver))
                params = params[1:]
            elif call.method is not None and isinstance(call.receiver, ir.RefValue):
                receiver_key = state.canonical(call.receiver.key)
                if not is_classmethod:
                    mapping.append((self_name, receiver_key))
                params = params[1:]
            elif call.method is not None:
                params = params[1:]
        passed = list(zip(params, call.args)) + [(n, v) for n, v in call.kwargs if n in params]
        for param, arg in passed:
            if not isinstance(arg, ir.RefValue):
                continue
            target = self.project.resolve(self.fn, arg.key, state.types)
            if target in self.project.functions:
                # A project function passed as an argument: calls through the parameter reach it.
                prefix = BOUND_METHOD_VALUE if self.bound_method(arg.key, target, state) else FUNCTION_VALUE
                mapping.append((param, prefix + target))
            else:
                mapping.append((param, state.canonical(arg.key)))
        # Closures and module globals: names the callee (or what it calls) reads but does not bind
        # are the caller's. Only those: the rest of the caller's state would only split the memo.
        if callee.file.path == self.file and state.modes:
            bound = {callee_key for callee_key, _ in mapping}
            free = self.evidence.free_names(callee.id)
            for key in list(state.modes):
                root = key.split(".")[0]
                if root in bound or root not in free:
                    continue
                if root in self.fn.info.local_names and callee.info.parent is None and self.fn.info.qualname != "<module>":
                    continue
                mapping.append((root, root))
        seen: set[str] = set()
        unique = []
        for pair in mapping:
            if pair[0] not in seen:
                seen.add(pair[0])
                unique.append(pair)
        return unique

    def bound_method(self, chain: str, target: str, state: State) -> bool:
        """Is ``model.embed`` (resolved to ``target``) a method bound to an instance? Not
        ``Embedder.embed`` taken from the class, whose callers pass ``self`` themselves."""
        owner = chain.rpartition(".")[0]
        is_method, is_classmethod = self.evidence.method_kind(self.project.functions[target])
        if not owner or not is_method:
            return False
        return is_classmethod or self.project.resolve(self.fn, owner, state.types) not in self.project.classes

    def calls_bound_method(self, call: ir.Call, state: State) -> bool:
        """``self.encoder(x)`` where ``self.encoder`` holds ``model.embed``."""
        return call.func is not None and (state.types.get(state.canonical(call.func)) or "").startswith(BOUND_METHOD_VALUE)

    def call_function(self, target: str, call: ir.Call, state: State, receiver: str | None = None) -> None:
        entry, mapping = self.callee_entry(target, call, state, receiver)
        summary = self.analyzer.analyze(target, entry, self.callee_context(target, call, state, mapping), self.here(call))
        self.lists_after_call(target, mapping, entry, summary.exit if summary is not None else None, state)
        if summary is None:
            self.lower_unresolved(call, state)
            return
        if summary.returned is not None:
            role = roles.MODE_FREE if summary.returned_role == roles.MODE_FREE else None
            self.results[call.node] = Fresh(summary.returned, role, summary.returned_type)
        elif summary.returned_role == roles.NOT_MODEL:
            self.results[call.node] = NOT_MODEL
        if summary.exit.dead:
            return
        rebound = self.evidence.rebound_parameters(target)
        exit_state = self._without_forwards_settled_inside(target, summary.exit)
        self.map_back(exit_state, [pair for pair in mapping if pair[0] not in rebound] if rebound else mapping, state, entry)
        state.grad = summary.exit.grad

    def _without_forwards_settled_inside(self, target: str, exit_state: State) -> State:
        """The callee's exit without the forwards it ran whose output reaches its own backward and
        nothing outside it (not returned, not stored): once it returns, no later backward can
        reach them. Where its backward did not run (`run_phase(..., train=False)`), they were
        no training step, so no step of the caller's may take them for one."""
        fref = self.project.functions[target]
        settled = [key for key, pending in exit_state.pending.items()
                   if pending.function == fref.info.qualname and pending.file == fref.file.path
                   and self._settled_inside(fref, pending.node)]
        if not settled:
            return exit_state
        trimmed = exit_state.copy()
        for key in settled:
            del trimmed.pending[key]
        return trimmed

    def _settled_inside(self, fref: FunctionRef, node: int) -> bool:
        flow = self.evidence.roles.flow(fref)
        return node in flow.to_backward and node not in flow.to_return and node not in flow.to_store

    def map_back(self, callee_state: State, mapping: list, state: State, entry: State | None = None) -> None:
        """What the callee left on the objects it was handed, under the caller's names. With the
        callee's ``entry``, a project class the callee itself built and bound to an attribute
        (`if not self.loaded: self.model = Generator()`) is handed back too, so the caller's next
        call resolves; a class it was handed is the caller's to know already."""
        mapped_pending: dict[str, Pending] = {}
        mapping = [pair for pair in mapping if function_of_value(pair[1]) is None]
        handed = frozenset(entry.types.values()) if entry is not None else None
        for callee_key, caller_key in sorted(mapping, key=lambda pair: len(pair[0])):
            prefix = callee_key + "."
            for key in sorted(callee_state.modes, key=len):
                if key == callee_key or key.startswith(prefix):
                    state.set_mode(caller_key + key[len(callee_key) :], callee_state.modes[key])
            if callee_key in callee_state.frozen:
                state.frozen = state.frozen | {caller_key}
            if callee_key in callee_state.partly_frozen:
                state.partly_frozen = state.partly_frozen | {caller_key}
            for key, type_id in callee_state.types.items():
                if (key == callee_key or key.startswith(prefix)) and (
                    type_id in roles.MARKERS
                    or (handed is not None and key != callee_key and type_id not in handed
                        and class_of_type(type_id) in self.project.classes)
                ):
                    state.types[caller_key + key[len(callee_key) :]] = type_id
            for key, pending in callee_state.pending.items():
                if key == callee_key or key.startswith(prefix):
                    mapped_pending[caller_key + key[len(callee_key) :]] = pending
        # `self.model = model` in `Predictor(net)`: the caller's `p.model` is its `net`; for a
        # module the caller has no name for (`Predictor(load())`, a local), `p.model` gets its mode.
        for key, target in callee_state.aliases.items():
            held = _under(key, mapping)
            if held is None or "." not in held:
                continue
            source = _under(target, mapping)
            if source is not None:
                if held != source:
                    state.aliases[held] = source
            elif callee_state.has_mode(target):
                state.set_mode(held, callee_state.mode_of(target))
        # The callee saw every pending forward (under its own names where mapped); what it leaves
        # pending is what is pending now (a training step inside it consumed the rest).
        for key, pending in callee_state.pending.items():
            if not any(key == ck or key.startswith(ck + ".") for ck, _ in mapping):
                mapped_pending.setdefault(key, pending)
        state.pending = mapped_pending
        state.grad = callee_state.grad

    def built_around_mode_free(self, class_id: str, call: ir.Call, state: State) -> bool:
        """Is this a module that builds nothing mode-dependent itself and runs only mode-free
        submodules it is handed (`RNNModel(nn.LSTM(n, h))`, `Encoder(shared_block=block)` of
        InstanceNorm layers)? Its mode then changes nothing either."""
        found = self.evidence.roles
        if not self.evidence.is_module_class(class_id) or found.class_role(class_id) != roles.UNSEEN:
            return False
        own, handed = found.own_role(class_id)
        init = self.project.method_of(class_id, "__init__")
        if own not in (roles.MODE_FREE, roles.NOT_MODEL) or not handed or init not in self.project.functions:
            return False
        values = dict(passed_values(self.project.functions[init], call, drops_self=True))
        return all(
            self.value_role(values[param], state) in (roles.MODE_FREE, roles.NOT_MODEL)
            for param in handed if param in values
        )

    def turns_grad_off(self, target: str | None) -> bool:
        """A project method decorated with `@torch.no_grad()` (pyg's `inference`, a
        `SentenceTransformer.encode`): walked as the function it is, so that its decorator counts."""
        if target not in self.project.functions:
            return False
        fref = self.project.functions[target]
        for decorator in fref.info.decorators:
            if decorator.chain is None:
                continue
            name = self.project.qualify(fref.file.path, decorator.chain)
            if name in torch_api.GRAD_OFF_CONTEXTS or self.evidence.roles.disables_grad(self.project.resolve(fref, decorator.chain)):
                return True
        return False


def _under(key: str, mapping: list) -> str | None:
    """``key`` of the callee under the caller's name for the mapped key it lies under, if any."""
    for callee_key, caller_key in sorted(mapping, key=lambda pair: -len(pair[0])):
        if key == callee_key or key.startswith(callee_key + ".") or key.startswith(callee_key + "["):
            return caller_key + key[len(callee_key) :]
    return None
