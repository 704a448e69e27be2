"""Forwards and training steps: the facts rules read.

A forward of a model (``model(x)``) is recorded with the state it runs in and the context it
runs in: an evaluation, a training step, or neither. A training forward is left pending until a
backward or an optimizer step consumes it; the step then records it with the modes it may have
run in. What counts as evaluation and as training is decided by where the forward's output
goes (``roles``), with the regions (functions, loops, blocks) as supporting evidence.
"""

from __future__ import annotations

from evallint.analysis import ir, roles
from evallint.analysis.bodies import forward_key
from evallint.analysis.callgraph import function_id, function_of_value
from evallint.analysis.facts import ContextInfo, ModelForward, TrainingForward
from evallint.analysis.names import identifier_words, key_and_ancestors
from evallint.analysis.lattice import (
    CONSTRUCTED,
    CONTEXT,
    EVAL,
    GRAD_OFF,
    GRAD_ON,
    PRETRAINED,
    SET_BY_CALL,
    UNKNOWN,
    UNRESOLVED,
    Origin,
    Pending,
    Poss,
    State,
    feasible,
    join_facts,
)
from evallint.analysis.records import UNTRACKED
from evallint.analysis.regions import is_test_module, is_test_suite_module

TRAINING_WORDS = frozenset({"train", "training", "fit", "step", "optimize", "optimise", "finetune", "tune", "learn"})


class ForwardTransfer:
    """The interpreter's transfer functions for forwards and training steps (a mixin of
    ``Interpreter``, whose state they read)."""

    def model_forward(self, key: str, call: ir.Call, state: State) -> None:
        ctx = self.context()
        if self.inside_module_class and key.startswith("self.") and not ctx.kind.startswith("managed"):
            # A module's own submodules follow the module's mode; whoever runs the module sets it.
            # (Lightning hooks are the exception: there the module is the training program.)
            return
        ctx, reaches_backward = self.forward_context(key, call, ctx, state)
        if ctx is None or (ctx.kind == "eval" and is_test_suite_module(self.fn.file)):
            # (A project's own tests run models to check code, not to measure them.)
            return
        path = tuple(self.path)
        modes = feasible(state.mode_of(key), path)
        self.analyzer.read_grad()
        grad = feasible(state.grad, path)
        if state.types.get(key) == roles.RUNS_WITHOUT_GRAD:
            # A pipeline's call switches autograd off around its models itself.
            grad = frozenset({Poss(GRAD_OFF, self.origin(CONTEXT, call.node, "the pipeline's own no_grad"))})
        method = call.method if call.method in ("forward", "generate") else "call"
        needs_grad = self._region_needs_grad()
        mode_matters = self.mode_matters(key, state)
        self.analyzer.facts.forwards.append(
            ModelForward(
                self.file, call.node, self.fn.info.qualname, key, method, ctx, modes, grad, needs_grad, self.caller, mode_matters,
                self.evidence.roles.weight_events(self.fn).get(key, ()), path,
            )
        )
        if not mode_matters:
            # Its mode changes nothing: no training step can run it in the wrong one.
            self.results[call.node] = UNTRACKED
            return
        if ctx.kind == "managed-train":
            if self.class_id is None or not self._class_restores_train(key):
                self.record_training_forward(key, self.file, call.node, self.fn.info.qualname, modes, call, "lightning", state)
            return
        grad_may_be_on = any(p.value in (GRAD_ON, UNKNOWN) for p in grad)
        # A forward in evaluation code is not a training forward, even with grad on (that is EVL201).
        trainable = ctx.kind not in ("eval", "managed-eval") and method != "generate" and reaches_backward
        if grad_may_be_on and trainable and not self.is_frozen(key, state):
            earlier = state.pending.get(key)
            if earlier is None:
                state.pending[key] = Pending(key, self.file, call.node, self.fn.info.qualname, state.mode_of(key), state.grad)
            else:
                # Keep the first forward of the step (it is the one reported); widen what it may see.
                state.pending[key] = Pending(
                    key,
                    earlier.file,
                    earlier.node,
                    earlier.function,
                    join_facts(earlier.modes, state.mode_of(key)),
                    join_facts(earlier.grad, state.grad),
                )
        self.results[call.node] = UNTRACKED

    def mode_matters(self, key: str, state: State) -> bool:
        """Does the mode of this model change what it computes (Dropout, BatchNorm inside)?"""
        for ancestor in key_and_ancestors(key):
            type_id = state.types.get(ancestor)
            if type_id is None:
                continue
            role = self.evidence.type_role(type_id)
            if ancestor == key:
                return role not in roles.MARKERS
            if role == roles.MODE_FREE:
                return False  # a submodule of a mode-free module
            if role != roles.NOT_MODEL:
                return True
            # What a plain object holds (`runner.model`) is judged by its own type, not the holder's.
        return True

    def forward_context(self, key: str, call: ir.Call, ctx: ContextInfo, state: State):
        """The context a forward runs in, by where its output goes (see ``roles``), and whether
        that output may reach a backward pass. None for a forward that is no evaluation at all:
        an untrained model built in the same function (a shape check)."""
        if ctx.kind.startswith("managed"):
            return ctx, True
        role = self.evidence.roles.forward_role(self.fn, call.node)
        if ctx.kind == "eval":
            # A backward here takes gradients on purpose (saliency, adversarial examples): the
            # region asks for them (``needs_grad``) and trains nothing.
            if self.built_untrained_here(key, call, state):
                return None, False
            return ctx, False
        if role == roles.TRAINING:
            return ctx, True
        # Put in eval mode on purpose, by a function that trains nothing: what it computes (kept
        # or returned) is the evaluation the switch was for (`get_activations`, `predict`).
        explicit_eval = (
            role in (roles.LOCAL, roles.RETURNED)
            and self.switched_to_eval(key, state)
            and not self.evidence.roles.flow(self.fn).sinks
            and not set(identifier_words(self.fn.info.name)) & TRAINING_WORDS
            and (role == roles.LOCAL or (self.fn.info.name not in ("forward", "__call__") and not self._returned_to_a_backward()))
        )
        if (explicit_eval or (role == roles.LOCAL and self.has_weights(key, call))) and not is_test_module(self.fn.file):
            # (A project's own tests compare outputs of models they load or train: no evaluation.)
            label = f"an evaluation forward in {_function_words(self.fn.info)} (its output never reaches a backward())"
            loops = self.evidence.roles.flow(self.fn).places.get(call.node, ((), -1))[0]
            region = loops[-1] if loops else self.fn.info.node
            return ContextInfo("eval", label, self.file, region, by_flow=True), False
        return ctx, role == roles.RETURNED or not self.evidence.roles.flow(self.fn).sinks

    def callee_context(self, target: str, call: ir.Call, state: State, mapping: list = ()) -> ContextInfo:
        """A helper that gets a model this function trains, trains nothing itself and whose result
        never reaches a backward evaluates that model (``compute_metrics(model, val_loader)``),
        whatever its name. It gets it as an argument, as its receiver, or as a global it reads
        (a script's ``translate(word)`` that runs the global ``model``; ``mapping`` names them)."""
        ctx = self.context()
        if ctx.kind not in ("train", "neutral") or is_test_module(self.fn.file):
            return ctx
        found = self.evidence.roles
        if found.forward_role(self.fn, call.node) not in (roles.LOCAL, roles.RETURNED) or self.evidence.trains(target):
            return ctx
        if set(identifier_words(self.project.functions[target].info.name)) & TRAINING_WORDS:
            # `train_one_epoch(model, ...)` whose backward evallint cannot see (a loss scaler
            # from a library): its name says what it is.
            return ctx
        keys = found.weighted_keys(self.fn)
        if not keys:
            return ctx
        passed = [value.key for value in call.arguments if isinstance(value, ir.RefValue)]
        if isinstance(call.receiver, ir.RefValue):
            passed.append(call.receiver.key)
        params = self.project.functions[target].info.params
        passed += [key for name, key in mapping if name not in params and self._holds_a_model(key, state)]
        for key in passed:
            canonical = state.canonical(key)
            if any(k in (key, canonical) or k.startswith((key + ".", canonical + ".")) for k in keys):
                name = self.project.functions[target].info.name
                label = f"{name}() (its result never reaches a backward())"
                return ContextInfo("eval", label, self.file, call.node, by_flow=True)
        return ctx

    def _holds_a_model(self, key: str, state: State) -> bool:
        """``key`` is a model, or holds modules among its attributes or items (an agent's
        ``self.policy``); not ``torch`` or an optimizer, which a training call reads too."""
        if function_of_value(key) is not None:
            return False
        if key in state.modes or self.is_model(key, state):
            return True
        prefixes = (key + ".", key + "[")
        return any(other.startswith(prefixes) for other in state.modes)

    def _returned_to_a_backward(self) -> bool:
        """The caller backpropagates what this function returns (Grad-CAM's `forward_pass()`)."""
        caller = self.caller
        fref = self.project.functions.get(function_id(caller.file, caller.function)) if caller is not None else None
        return fref is not None and self.evidence.roles.forward_role(fref, caller.node) == roles.TRAINING

    def switched_to_eval(self, key: str, state: State) -> bool:
        """Every path put the model in eval mode on purpose (`model.eval()`, `from_pretrained`):
        a forward whose output then goes nowhere near a backward is the evaluation it was for."""
        modes = state.mode_of(key)
        return bool(modes) and all(p.value == EVAL and p.origin.kind in (SET_BY_CALL, PRETRAINED) for p in modes)

    def has_weights(self, key: str, call: ir.Call) -> bool:
        """The model is trained or its weights are loaded in this function, by the time of this
        forward: worth evaluating (a forward before any training only probes the new model)."""
        return self.evidence.roles.has_weights_at(self.fn, {key, forward_key(call)}, call.node)

    def built_untrained_here(self, key: str, call: ir.Call, state: State) -> bool:
        """A model this very function builds and neither trains nor loads weights into: running
        it checks shapes or smoke-tests the code; it evaluates nothing. So is a model the
        module-level code of a script builds, run by a function it calls before anything trained
        or loaded it (`test()` before the training loop)."""
        modes = state.mode_of(key)
        if not modes:
            return False
        if all(_built_here(p.origin, self.fn.info.qualname) for p in modes):
            return not self.has_weights(key, call)
        caller = self.caller
        if caller is None or caller.function != "<module>" or key.partition(".")[0] in self.fn.info.params:
            return False
        if any(not _built_here(p.origin, "<module>") or p.origin.file != caller.file for p in modes):
            return False
        script = self.project.functions.get(function_id(caller.file, "<module>"))
        return script is not None and not self.evidence.roles.has_weights_at(script, {key}, caller.node)

    def _class_restores_train(self, key: str) -> bool:
        calls = self.evidence.class_train_calls(self.class_id)  # type: ignore[arg-type]
        return any(ancestor in calls for ancestor in key_and_ancestors(key))

    def _region_needs_grad(self) -> bool:
        if self.innermost_region() is None:
            return False
        return self.evidence.needs_grad(self.fn)

    def training_step(self, call: ir.Call, state: State, kind: str) -> None:
        if kind == "backward" and not self.evidence.trains(self.fn.id, steps_only=True) and (
            self.caller is None or not self.evidence.file_steps(self.file)
        ):
            # A backward that no optimizer step follows, in code nothing calls or in a file that
            # steps no optimizer anywhere: gradients taken on purpose (saliency), no training step.
            return
        optimized = self.evidence.roles.optimized(self.fn)
        # An optimizer that updates inputs only (an image made to excite a class): the models the
        # step backpropagates through are evaluated, with gradients on purpose.
        inputs = self.evidence.roles.optimized_inputs(self.fn) if kind == "step" and optimized is not None else ()
        if any(self.is_model(state.canonical(k), state) for k in inputs):
            inputs = ()
        for key, pending in list(state.pending.items()):
            if optimized is not None and not _among(key, optimized, state):
                # Not handed to the optimizer built here: not trained by this step.
                if inputs:
                    self.record_input_optimisation(key, pending, inputs, state)
                continue
            self.record_training_forward(key, pending.file, pending.node, pending.function, None, call, kind, state, pending)

    def record_input_optimisation(self, key: str, pending: Pending, inputs: tuple[str, ...], state: State) -> None:
        """The forward of a model through which an optimizer updates ``inputs``: an evaluation
        that takes gradients on purpose (EVL101 applies, EVL201 does not)."""
        path = tuple(self.path)
        label = f"the optimisation of {', '.join(inputs)} in {_function_words(self.fn.info)}"
        region = self.innermost_region()
        node = region.node if region is not None and region.file == self.file else self.fn.info.node
        context = ContextInfo("eval", label, self.file, node)  # (eval() before the loop is the fix)
        self.analyzer.facts.forwards.append(
            ModelForward(
                pending.file, pending.node, pending.function, key, "call", context, feasible(pending.modes, path),
                feasible(pending.grad, path), True, self.caller, self.mode_matters(key, state), (), path,
            )
        )

    def record_training_forward(self, key, file, node, function, modes, call, kind, state: State, pending: Pending | None = None):
        path = tuple(self.path)
        if pending is not None:
            grad = feasible(pending.grad, path)
            if not any(p.value in (GRAD_ON, UNKNOWN) for p in grad):
                return
            modes = feasible(pending.modes, path)
        region = None
        for candidate in reversed(self.regions):
            if candidate.kind in ("train", "managed-train"):
                region = candidate
                break
        self.analyzer.facts.training_forwards.append(
            TrainingForward(
                file,
                node,
                function,
                key,
                modes,
                self.file,
                call.node,
                kind,
                region.file if region else self.file,
                region.node if region else self.fn.info.node,
                self.caller,
                self.is_frozen(key, state, partly=True),
            )
        )



def _built_here(origin: Origin, function: str) -> bool:
    """The module was built in ``function``: a constructor, or a call evallint cannot follow that
    returned it (``rm.EncoderRNN(...)`` from a module it cannot see)."""
    built = origin.kind == CONSTRUCTED or (origin.kind == UNRESOLVED and origin.detail == "a call")
    return built and origin.function == function


def _among(key: str, owners: frozenset[str], state: State) -> bool:
    """Is ``key`` (or what holds it, or what it holds) one of ``owners``, aliases followed?"""
    for owner in owners:
        for candidate in {owner, state.canonical(owner)}:
            if key == candidate or key.startswith(candidate + ".") or candidate.startswith(key + "."):
                return True
    return False



def _function_words(info: ir.FunctionInfo) -> str:
    return "module-level code" if info.qualname == "<module>" else f"{info.name}()"

