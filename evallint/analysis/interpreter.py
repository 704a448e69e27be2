"""The transfer functions of one walk of one function, in one entry context.

``Interpreter`` gives the structured walk (``flow.Walker``) its meaning: what an assignment
binds, what a branch condition tells about the mode, what entering and leaving a ``with`` item
switches, which region (evaluation, training) the code is in. Calls are dispatched to the
ordered handlers of ``call_handlers``; forwards and training steps are recorded by
``forwards.ForwardTransfer``; calls into project functions are mapped by
``project_calls.ProjectCalls``. What a call evaluates to is kept per call node as a typed
record (``records``).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import TYPE_CHECKING

from evallint.analysis import ir, roles, torch_api
from evallint.analysis.bodies import const
from evallint.analysis.call_handlers import CallSite, handle_call
from evallint.analysis.callgraph import MODE_FREE_INSTANCE, FunctionRef
from evallint.analysis.facts import CallerInfo, ContextInfo, Reveal
from evallint.analysis.flow import Region, Walker
from evallint.analysis.forwards import ForwardTransfer
from evallint.analysis.item_lists import ItemLists
from evallint.analysis.names import identifier_words, key_and_ancestors
from evallint.analysis.lattice import (
    CONSTRUCTED,
    CONTEXT,
    ELEMENTS_OF,
    EVAL,
    GRAD_OFF,
    GRAD_ON,
    PRETRAINED,
    SET_BY_CALL,
    TRAIN,
    UNKNOWN,
    UNRESOLVED,
    Facts,
    Origin,
    Poss,
    State,
    feasible,
    forget_loops,
    join_facts,
)
from evallint.analysis.project_calls import ProjectCalls
from evallint.analysis.records import (
    Alias,
    CallResult,
    Fresh,
    Instance,
    NewList,
    NotModel,
    Summary,
    Unpacked,
    WithToken,
    known,
)
from evallint.analysis.regions import looks_like_model
from evallint.analysis.switches import Switches
from evallint.analysis.torch_api import MODE_NEUTRAL_CALLS

if TYPE_CHECKING:
    from evallint.analysis.driver import Analyzer

_UNSEEN = object()


class Interpreter(Switches, ForwardTransfer, ProjectCalls, ItemLists, Walker):
    """Transfer functions for one walk of one function in one entry context."""

    def __init__(self, analyzer: "Analyzer", fref: FunctionRef, ctx: ContextInfo, caller: CallerInfo | None) -> None:
        super().__init__()
        self.analyzer = analyzer
        self.evidence = evidence = analyzer.evidence
        self.project = analyzer.project
        self.fn = fref
        self.file = fref.file.path
        self.entry_ctx = ctx
        self.caller = caller
        self.regions: list[Region] = []
        self.results: dict[int, CallResult] = {}
        self.returned: Facts | None = None
        self.exit_stack: list[WithToken] = []  # what `stack.enter_context(...)` entered
        self.returned_role: str | None = None
        self.returned_types: set[str | None] = set()  # the type of the model each return gives
        class_id = self.project.class_of_method(fref)
        self.class_id = class_id
        self.module_receivers = evidence.receivers_in(fref, class_id)
        # What is_model decides from the function alone, shared by every walk of the function.
        self.model_verdicts = evidence.model_verdicts.setdefault(fref.id, {})
        self.inside_module_class = class_id is not None and evidence.is_module_class(class_id)

    # -- running ----------------------------------------------------------------------------------------

    def run(self, entry: State) -> Summary:
        state = entry.copy()
        self.lists_live = any(type_id.startswith(ELEMENTS_OF) for type_id in state.types.values())
        grad_before = state.grad
        for decorator in self.fn.info.decorators:
            if decorator.chain is None:
                continue
            name = self.project.qualify(self.file, decorator.chain)
            if name in torch_api.GRAD_OFF_CONTEXTS:
                if decorator.called and decorator.args and const(decorator.args[0]) is False:
                    continue
                state.grad = frozenset({Poss(GRAD_OFF, self.origin(CONTEXT, self.fn.info.node, name))})
            elif name in torch_api.GRAD_ON_CONTEXTS:
                state.grad = frozenset({Poss(GRAD_ON, self.origin(CONTEXT, self.fn.info.node, name))})
            elif self.evidence.roles.disables_grad(self.project.resolve(self.fn, decorator.chain)):
                # `@smart_inference_mode()`: the project's own decorator wraps the function in one.
                state.grad = frozenset({Poss(GRAD_OFF, self.origin(CONTEXT, self.fn.info.node, decorator.chain))})
        region = self.evidence.function_region(self.fn)
        if region is not None:
            self.regions.append(region)
        out = self.walk(self.fn.info.body, state)
        exit_state = out
        for returned in self.returns:
            exit_state = exit_state.join(returned)
        if exit_state.dead:
            exit_state = out if not out.dead else exit_state
        exit_state = exit_state.copy()
        if not exit_state.dead:
            exit_state.grad = grad_before if state.grad is not grad_before else exit_state.grad
        yielded = None
        if self.yields:
            yielded = self.yields[0]
            for other in self.yields[1:]:
                yielded = yielded.join(other)
        # Which of this function's own loops a possibility crossed means nothing once it returns:
        # the rules ask only about the loops around a training step, and those enclose it. Kept,
        # the marks would make every call from a caller's loop a new context for its callees, so
        # that loop's head would change on each pass until the iteration limit.
        own_loops = self.evidence.own_loops(self.fn)
        returned = self.returned
        if own_loops:
            exit_state = exit_state.forget_loops(own_loops)
            yielded = yielded.forget_loops(own_loops) if yielded is not None else None
            returned = forget_loops(returned, own_loops) if returned is not None else None
        exit_state = _outside_own_loops(exit_state, own_loops | {(self.file, self.fn.info.node)})
        returned_type = next(iter(self.returned_types)) if len(self.returned_types) == 1 else None
        return Summary(exit_state, yielded, returned, self.returned_role, returned_type)

    def loop_id(self, stmt: ir.Loop) -> tuple:
        return (self.file, stmt.node)

    # -- context ------------------------------------------------------------------------------------------

    def context(self) -> ContextInfo:
        for region in reversed(self.regions):
            if region.kind != "neutral":
                return ContextInfo(region.kind, region.label, region.file, region.node)
        return self.entry_ctx

    def innermost_region(self) -> Region | None:
        for region in reversed(self.regions):
            if region.kind in ("eval", "train", "managed-eval", "managed-train"):
                return region
        return None

    def origin(self, kind: str, node: int, detail: str = "", receiver: str = "") -> Origin:
        region = self.innermost_region()
        return Origin(
            kind,
            self.file,
            node,
            self.fn.info.qualname,
            (region.file, region.node) if region else (),
            region.kind if region else "",
            detail,
            receiver,
        )

    def guard(self) -> tuple:
        return self.path[-1] if self.path else ()

    def push_region(self, region: Region) -> None:
        self.regions.append(region)

    def pop_region(self) -> None:
        self.regions.pop()

    def runs_at_least_once(self, loop: ir.Loop) -> bool:
        if super().runs_at_least_once(loop):
            return True
        # `for epoch in range(NUM_EPOCHS):` with `NUM_EPOCHS = 10` set once in the module.
        match = _RANGE_OF_NAME.match(loop.iter_text) if not loop.is_while else None
        if match is None:
            return False
        value = self.evidence.module_constant(self.file, match.group(1))
        return isinstance(value, int) and not isinstance(value, bool) and value > 0

    def loop_region(self, loop: ir.Loop) -> Region | None:
        return self.evidence.loop_region(self.fn, loop)

    def with_region(self, stmt: ir.With, state: State) -> Region | None:
        # Inside functions a no_grad block is no evidence of evaluation (teachers, EMA updates, shape
        # probes all use one); in a script's module-level code it marks the inference part.
        if self.fn.info.qualname != "<module>" or self.context().kind != "neutral":
            return None
        for item in stmt.items:
            if item.call is None or item.call.func is None:
                continue
            name = self.project.qualify(self.file, item.call.func)
            if name in torch_api.GRAD_OFF_CONTEXTS or (
                name in torch_api.SET_GRAD_ENABLED and item.call.args and const(item.call.args[0]) is False
            ):
                short = item.call.func.split(".")[-1]
                return Region("eval", self.file, stmt.node, f"the {short}() block")
        return None

    # -- keys ---------------------------------------------------------------------------------------------

    def is_model(self, key: str, state: State) -> bool:
        cls = state.types.get(key)
        if cls is not None and not self.evidence.is_model_type(cls):
            return False
        verdict = self.model_verdicts.get(key, _UNSEEN)
        if verdict is _UNSEEN:
            verdict = self.model_verdicts[key] = self._model_verdict(key)
        if verdict is not None:
            return verdict
        cls = state.types.get(key)
        if key in state.modes:
            # `model, criterion, optimizer = torch.load(f)`: a loss by name stays a loss.
            return cls is not None or not set(identifier_words(key.rpartition(".")[2])) & _LOSS_WORDS
        return cls is not None and self.evidence.is_module_class(cls)

    def _model_verdict(self, key: str) -> bool | None:
        """What ``is_model`` says of ``key`` in this function whatever the state: False for a name
        the module imports or defines (and the function does not bind), True for a module's
        receiver or a name people give to models, None where the state decides."""
        root = key.partition(".")[0].partition("[")[0]
        info = self.fn.info
        # `import model` then `model = model.RNNModel(...)`: the module's name now holds a model.
        rebound = self.evidence.module_rebinds(self.file, root)
        if root not in info.local_names and root != "self" and self.project.is_imported_or_defined(self.file, root):
            if not rebound:
                return False
        if root in info.imported_names and not rebound:
            return False
        if key in self.module_receivers:
            return True
        if key == "self" and self.inside_module_class and self.fn.info.params[:1] == ("self",):
            return self.evidence.is_model_type(self.class_id)  # `self(x)` in a model's own methods
        last = key.rpartition(".")[2]
        if last in self.evidence.extra_model_names or key in self.evidence.extra_model_names:
            return True
        return True if looks_like_model(key) else None

    def is_frozen(self, key: str, state: State, partly: bool = False) -> bool:
        """Are the parameters of ``key`` (or of a module holding it) frozen, all of them or, with
        ``partly``, all but those a condition spares?"""
        frozen = state.partly_frozen if partly else state.frozen
        if not frozen:
            return False
        return any(ancestor in frozen for ancestor in key_and_ancestors(key))

    # -- statements -------------------------------------------------------------------------------------------

    def refine(self, cond: ir.CondValue, truth: bool, state: State) -> State:
        """In `if model.training:` (or a flag saved from it) the branch tells the mode.

        On the false branch of `isinstance(x, nn.Module)`, x is no module: its mode means nothing.
        """
        match = _ISINSTANCE_MODULE.match(cond.text)
        if match is not None and truth == cond.negated:
            key = state.canonical(match.group(1))
            state = state.copy()
            state.set_mode(key, frozenset({Poss(UNKNOWN, Origin(UNRESOLVED, self.file, -1, self.fn.info.qualname))}))
            return state
        key = None
        wanted = TRAIN if truth != cond.negated else EVAL
        saved = state.saved_flags.get(cond.text)
        if saved is not None:
            # `was_training = model.training; model.eval(); ...; if was_training: model.train()`:
            # the flag tells the mode when it was saved, not now. A branch the saved mode rules
            # out is never taken.
            if not any(p.value in (wanted, UNKNOWN) for p in saved):
                return State.unreachable()
            return state
        if cond.text.endswith(".training"):
            key = state.canonical(cond.text[: -len(".training")])
        if key is None:
            return state
        facts = state.mode_of(key)
        kept = frozenset(p for p in facts if p.value in (wanted, UNKNOWN))
        if not kept and facts and all(p.origin.kind in (SET_BY_CALL, PRETRAINED) for p in facts):
            # `model.eval()` was called on every path: a module's own `if self.training:` branch
            # cannot run (its mode must not leak out of the forward into the caller's).
            return State.unreachable()
        if not kept:
            # The flag contradicts what was assumed (e.g. the train-mode default): the flag wins.
            kept = frozenset({Poss(wanted, Origin(CONTEXT, self.file, -1, self.fn.info.qualname, (), "", cond.text))})
        if kept != facts:
            state = state.copy()
            state.set_mode(key, kept)
        return state

    def on_loop_targets(self, loop: ir.Loop, state: State) -> State:
        names = set(loop.targets)
        if names:
            state.forget_guards_on(names)
            for name in names:
                state.aliases.pop(name, None)
                state.saved_flags.pop(name, None)
        if loop.frozen_params_of is not None:
            state.frozen = state.frozen | {state.canonical(loop.frozen_params_of)}
        if loop.partly_frozen_params_of is not None:
            state.partly_frozen = state.partly_frozen | {state.canonical(loop.partly_frozen_params_of)}
        self.typed_loop_targets(loop, state)
        return state

    def on_reveal(self, stmt: ir.Reveal, state: State) -> None:
        modes = None
        if stmt.key is not None:
            modes = feasible(state.mode_of(state.canonical(stmt.key)), tuple(self.path))
        self.analyzer.read_grad()
        self.analyzer.facts.reveals.append(
            Reveal(self.file, stmt.node, stmt.key, modes, feasible(state.grad, tuple(self.path)))
        )

    def on_return(self, stmt: ir.Return, state: State) -> None:
        facts = None
        type_id = None
        value = stmt.value
        if isinstance(value, ir.RefValue):
            key = state.canonical(value.key)
            if self.is_model(key, state):
                facts = state.mode_of(key)
                type_id = state.types.get(key)
                if type_id in roles.MARKERS:
                    self.returned_role = type_id  # `net = UNet(...); ...; return net`: still mode-free
        elif isinstance(value, ir.CallValue):
            # `return VGG(...)`: a factory's module, in train mode like any new one.
            facts = self.value_facts(value)
            role = self.value_role(value, state)
            if role in roles.MARKERS:
                self.returned_role = role
            result = known(self.results.get(value.node))
            type_id = result.class_id if isinstance(result, Instance) else result.type_id if isinstance(result, Fresh) else None
        if facts is not None:
            self.returned = facts if self.returned is None else join_facts(self.returned, facts)
            # What class the caller holds: `model = train(args)` then `model.inference(...)` resolves.
            self.returned_types.add(type_id if type_id not in roles.MARKERS else None)

    def on_assign(self, assign: ir.Assign, state: State) -> State:
        if self.lists_live:
            self.lists_before_assign(assign, state)
        state = self._assigned(assign, state)
        value = assign.value
        if self.lists_live or assign.slice_of is not None or type(value) is ir.TupleValue or (
            type(value) is ir.CallValue and type(self.results.get(value.node)) is NewList
        ):
            self.lists_after_assign(assign, state)
        return state

    def _assigned(self, assign: ir.Assign, state: State) -> State:
        value = assign.value
        targets = assign.targets
        if len(targets) > 1:
            items: tuple[ir.Value, ...] | None = None
            if isinstance(value, ir.TupleValue) and len(value.items) == len(targets):
                items = value.items
            elif isinstance(value, ir.CallValue):
                result = self.results.get(value.node)
                if isinstance(result, Unpacked) and len(result.items) == len(targets):
                    items = result.items
            for index, target in enumerate(targets):
                if items is None and isinstance(value, ir.CallValue) and target is not None:
                    self._unbind(target, state)
                    self._unknown_if_model(target, value.node, state)
                    continue
                self.bind(target, items[index] if items else ir.OTHER, state)
            return state
        self.bind(targets[0], value, state)
        return state

    def bind(self, target: str | None, value: ir.Value, state: State) -> None:
        if target is None:
            return
        target = target if "." not in target else _canonical_prefix(state, target)
        root = target.split(".")[0]
        state.forget_guards_on({root} if "." not in target else set())
        state.saved_flags.pop(target, None)
        if isinstance(value, ir.RefValue):
            source = state.canonical(value.key)
            if source != target:
                self._unbind(target, state)
                if self.is_model(target, state) and not self.is_model(source, state):
                    # `model = setup["ddp"]`: a model taken out of something evallint does not follow.
                    self._unknown_if_model(target, -1, state)
                    return
                state.aliases[target] = source
                if source in state.types:
                    state.types[target] = state.types[source]
            return
        if isinstance(value, ir.TrainingFlagValue):
            self._unbind(target, state)
            source = state.canonical(value.key)
            state.saved_flags[target] = state.mode_of(source)
            state.saved_flag_keys[target] = source
            return
        if isinstance(value, ir.CallValue):
            result = known(self.results.get(value.node))
            if isinstance(result, NewList):
                result = None  # a list, whose items `lists_after_assign` may know
            if isinstance(result, Alias) and state.canonical(result.key) == state.canonical(target):
                return  # `model = model.to(device)`: the same module
            # Read before the name is rebound: `model = Wrapper(model)` wraps the old `model`, and
            # `opts = munchify(opts)` may still hold the model `opts` held.
            handed = self.wrapped_modes(result, state) if isinstance(result, Instance) else None
            held_model = result is None and self.is_model(target, state)
            self._unbind(target, state)
            if result is None:
                self._unknown_if_model(target, value.node, state, held_model)
                return
            if isinstance(result, NotModel):
                state.types[target] = roles.NOT_MODEL
            elif isinstance(result, Fresh):
                state.set_mode(target, result.modes)
                if result.type_id is not None:
                    state.types[target] = result.type_id
                elif result.role is not None:
                    state.types[target] = result.role
            elif isinstance(result, Alias):
                if result.key != target:
                    state.aliases[target] = result.key
            elif isinstance(result, Instance):
                class_id, call = result.class_id, result.call
                state.types[target] = class_id
                if self._inert_instance(class_id, call) or self.built_around_mode_free(class_id, call, state):
                    state.types[target] = MODE_FREE_INSTANCE + class_id
                if self.evidence.is_module_class(class_id) and self.evidence.roles.class_role(class_id) != roles.NOT_MODEL:
                    state.set_mode(target, handed or frozenset({Poss(TRAIN, self.origin(CONSTRUCTED, call.node))}))
                init = self.project.method_of(class_id, "__init__")
                if init is not None:
                    self.call_function(init, call, state, receiver=target)
            return
        self._unbind(target, state)
        if isinstance(value, ir.LambdaValue):
            # `net = lambda X: X @ w + b`: no mode to be in, but it may run parameters (EVL201).
            state.types[target] = roles.MODE_FREE

    def _inert_instance(self, class_id: str, call: ir.Call) -> bool:
        """Is this instance of a model class built with values that leave its mode-dependent
        layers inert (`GPT({"drop_rate": 0.0})`, `Decoder(size, num_layers=1)`)?"""
        found = self.evidence.roles
        return (
            self.evidence.is_module_class(class_id)
            and found.class_role(class_id) == roles.MODEL
            and found.instance_role(self.fn, call, class_id) in (roles.MODE_FREE, roles.NOT_MODEL)
        )

    def wrapped_modes(self, instance: Instance, state: State) -> Facts | None:
        """A project module that builds no mode-dependent layer of its own (its role is UNSEEN:
        what it runs is handed in) runs the modules it is built around in their modes."""
        if self.evidence.roles.class_role(instance.class_id) != roles.UNSEEN:
            return None
        call = instance.call
        return self.handed_in_modes(call.arguments, state)

    def handed_in_modes(self, parts, state: State) -> Facts | None:
        """The modes of the modules a new module is built around (``nn.Sequential(model,
        nn.Softmax(1))``, ``DataParallel(model)``): ``model.eval()`` before wrapping holds inside
        the wrapper, whose own flag says nothing of them. None when the parts are only new modules
        (the new one's own "built here, in train mode" says as much) or one of them is not known."""
        found: set[Poss] = set()
        for value in parts:
            if isinstance(value, ir.RefValue):
                key = state.canonical(value.key)
                if not self.is_model(key, state):
                    continue
                if not state.has_mode(key):
                    return None
                found |= state.mode_of(key)
            elif isinstance(value, ir.CallValue):
                result = known(self.results.get(value.node))
                if isinstance(result, Fresh):
                    if result.role is None:
                        found |= result.modes
                elif not isinstance(result, NotModel):
                    return None
        if all(p.value == TRAIN and p.origin.kind == CONSTRUCTED for p in found):
            return None
        return frozenset(found)

    def _unknown_if_model(self, target: str, node: int, state: State, held_model: bool = False) -> None:
        """A model returned by a call evallint cannot follow: its mode is unknown, not "nothing set it"."""
        if held_model or self.is_model(target, state):
            state.set_mode(target, frozenset({Poss(UNKNOWN, self.origin(UNRESOLVED, node, "a call"))}))

    def _unbind(self, target: str, state: State) -> None:
        state.aliases.pop(target, None)
        state.types.pop(target, None)
        prefixes = (target + ".", target + "[")
        for key in [k for k in state.modes if k == target or k.startswith(prefixes)]:
            del state.modes[key]
        if target in state.frozen:
            state.frozen = state.frozen - {target}
        if target in state.partly_frozen:
            state.partly_frozen = state.partly_frozen - {target}

    # -- calls ------------------------------------------------------------------------------------------------

    def on_call(self, call: ir.Call, state: State) -> State:
        return handle_call(self, CallSite(self, call, state), state)

    def constructed_role(self, qualified: str, call: ir.Call, state: State) -> str:
        role = roles.constructor_role(qualified, call)
        if role != roles.CONTAINER:
            return role
        return roles.container_role(self.value_role(value, state) for value in call.arguments)

    def value_role(self, value: ir.Value, state: State) -> str:
        """Is this argument of a container (``nn.Sequential(...)``, ``DataParallel(...)``) a model?"""
        if isinstance(value, ir.RefValue):
            key = state.canonical(value.key)
            if key in state.types:
                return self.evidence.type_role(state.types[key])
            return roles.MODEL
        if isinstance(value, ir.CallValue):
            result = known(self.results.get(value.node))
            if result is None:
                return roles.UNSEEN
            if isinstance(result, NotModel):
                return roles.NOT_MODEL
            if isinstance(result, Instance):
                if not self.evidence.is_module_class(result.class_id):
                    return roles.NOT_MODEL
                return self.evidence.roles.class_role(result.class_id)
            if isinstance(result, Fresh) and result.role is not None:
                return result.role
            return roles.MODEL
        if isinstance(value, (ir.TupleValue, ir.MixValue)):
            items = value.items if isinstance(value, ir.TupleValue) else value.parts
            return roles.container_role(self.value_role(item, state) for item in items)
        return roles.NOT_MODEL

    def lower_unresolved(self, call: ir.Call, state: State) -> None:
        """An unresolved call that receives a model may switch its mode: it is unknown from here on."""
        name = (call.func or "").split(".")[-1] or (call.method or "")
        if name in MODE_NEUTRAL_CALLS:
            return
        values = list(call.args) + [value for _, value in call.kwargs]
        for value in values:
            if isinstance(value, ir.RefValue):
                key = state.canonical(value.key)
                if self.is_model(key, state):
                    state.set_mode(key, frozenset({Poss(UNKNOWN, self.origin(UNRESOLVED, call.node, name))}))
        receiver = call.receiver
        if isinstance(receiver, ir.RefValue) and call.method and _mentions_mode(call.method):
            key = state.canonical(receiver.key)
            if self.is_model(key, state):
                state.set_mode(key, frozenset({Poss(UNKNOWN, self.origin(UNRESOLVED, call.node, call.method))}))


def _outside_own_loops(state: State, own_loops: frozenset) -> State:
    """Once a function returns, a mode its loops set is no longer "set inside this training step"
    for the steps that follow its return: the next call's first step gets it from outside
    (EVL102), not from an ``eval()`` in its own step (EVL103)."""
    changed = {}
    for key, facts in state.modes.items():
        if any(p.origin.region in own_loops for p in facts):
            changed[key] = frozenset(
                Poss(p.value, dataclasses.replace(p.origin, region=_RETURNED), p.guard, p.carried)
                if p.origin.region in own_loops
                else p
                for p in facts
            )
    if not changed:
        return state
    state = state.copy()
    state.modes.update(changed)
    return state


_LOSS_WORDS = frozenset({"loss", "criterion"})
_RETURNED = ("", -2)  # the region of a mode set in a loop of a function that has returned
_RANGE_OF_NAME = re.compile(r"^range\(([A-Za-z_]\w*)\)$")
_ISINSTANCE_MODULE = re.compile(r"^isinstance\(\s*([A-Za-z_][\w.]*)\s*,\s*(?:torch\.)?(?:nn\.)?Module\s*\)$")


@functools.lru_cache(maxsize=1 << 16)
def _mentions_mode(method: str) -> bool:
    words = set(identifier_words(method))
    return bool(words & {"eval", "train", "mode", "training", "evaluation", "freeze", "unfreeze"})


def _canonical_prefix(state: State, target: str) -> str:
    """``self.model = ...`` binds the attribute chain itself; aliases of its owner still apply."""
    owner, _, attr = target.rpartition(".")
    return f"{state.canonical(owner)}.{attr}"

