"""What the walk asks about the code that does not depend on the state it runs in.

``Evidence`` answers for one project and one set of settings: does a function train (run a
backward or an optimizer step, itself or through what it calls), which keys its code uses as
modules, what kind of region a function or loop is, whether a class is an ``nn.Module``, what
role a type plays. Each answer is computed on first use and kept: it is a function of the
project alone, so one ``Evidence`` is built per run and shared by every walk, in any order and
in any process.

Answers that follow the call graph (``trains``, ``free_names``) are least fixpoints over its
strongly connected components (``fixpoint.solve``), so a function in a call cycle gets the
same answer whichever function of the cycle was asked about first.
"""

from __future__ import annotations

import fnmatch

from evallint.analysis import dataflow, ir, roles, step_calls, torch_api
from evallint.analysis.bodies import calls_in, const, flatten, values_of
from evallint.analysis.callgraph import MODE_FREE_INSTANCE, ONE_OF_CLASSES, FunctionRef, classes_of_choice, ProjectIndex, class_of_type, function_id
from evallint.analysis.dispatch import find_self_variants
from evallint.analysis.fixpoint import solve
from evallint.analysis.item_lists import list_is_walked_whole
from evallint.analysis.flow import Region
from evallint.analysis.names import identifier_words
from evallint.analysis.lattice import ELEMENTS_OF, ENTRY, Origin
from evallint.analysis.regions import (
    EVAL_FUNCTION_WORDS,
    is_eval_function_name,
    is_eval_loader,
    is_test_module,
)
from evallint.analysis.relevance import CallScan, scan_calls
from evallint.analysis.saved_models import saved_models_of

_UNSEEN = object()
_TEST_WORDS = frozenset({"test", "testing"})


class Evidence:
    """State-independent facts about a project's functions, classes and files, each computed once."""

    def __init__(self, project: ProjectIndex, settings=None) -> None:
        self.project = project
        self.extra_eval_patterns = tuple(getattr(settings, "eval_function_patterns", ()) or ())
        self.extra_model_names = frozenset(getattr(settings, "model_names", ()) or ())
        self.extra_step_calls = frozenset(getattr(settings, "training_step_calls", ()) or ())
        self._statements: dict[str, tuple[ir.Stmt, ...]] = {}
        self._rebound: dict[str, frozenset[str]] = {}
        self._calls: dict[str, tuple[ir.Call, ...]] = {}
        self._saved_models: dict[str, dict[str, str]] = {}
        self._callees: dict[str, tuple[str, ...]] = {}
        self._self_variants: dict[str, tuple[str, ...]] = {}
        self._own_loops: dict[str, frozenset[tuple[str, int]]] = {}
        self._entry_origins: dict[str, Origin] = {}
        self._method_kinds: dict[str, tuple[bool, bool]] = {}
        self._training_calls: dict[tuple[str, int], str | None] = {}
        self._direct_training: dict[tuple[str, bool], bool] = {}
        self._trains: dict[bool, dict[str, bool]] = {False: {}, True: {}}
        self._free_names: dict[str, frozenset[str]] = {}
        self._item_tracking: dict[tuple[str, str], bool] = {}
        self._imported_modules: frozenset[str] | None = None
        self._file_functions: dict[str, list[str]] | None = None
        self._needs_grad: dict[str, bool] = {}
        self._module_receivers: dict[str, frozenset[str]] = {}
        self._class_receivers: dict[str, frozenset[str]] = {}
        self._receivers_in: dict[str, frozenset[str]] = {}
        self._class_train_calls: dict[str, frozenset[str]] = {}
        self._file_steps: dict[str, bool] = {}
        self._module_constants: dict[str, dict] = {}
        self._module_assigned: dict[str, frozenset[str]] = {}
        self._module_classes: dict[str, bool] = {}
        self._regions: dict[str, Region | None] = {}
        self._delegated_switches: dict[str, bool] = {}
        self._loop_regions: dict[tuple[str, int], Region | None] = {}
        self._scan = None  # relevance.CallScan, made on first use or adopted
        self.referenced: set[str] = set()
        # What Interpreter.is_model decides from a function alone, per function and key.
        self.model_verdicts: dict[str, dict[str, bool | None]] = {}
        self.roles = roles.Roles(
            project, self.statements, self.is_module_class, self.sink_kind, lambda fref: self.trains(fref.id, steps_only=True),
            self.globals_trained_by, self._training_callee,
        )

    # -- the call scan --------------------------------------------------------------------------------

    def scan(self) -> CallScan:
        """The scan of every call and reference (``relevance.CallScan``), made on first use."""
        if self._scan is None:
            self.adopt_scan(scan_calls(self))
        return self._scan

    def adopt_scan(self, scan: CallScan) -> None:
        """Use a scan made elsewhere: the merged halves that two processes scanned."""
        self._scan = scan
        # Functions used as values (passed as callbacks, returned, stored) have callers evallint
        # cannot see: they start from an unknown state.
        self.referenced = scan.referenced

    # -- bodies --------------------------------------------------------------------------------------

    def statements(self, fref: FunctionRef) -> tuple[ir.Stmt, ...]:
        """Every statement of a function's body, nested blocks included (pre-order), computed once."""
        found = self._statements.get(fref.id)
        if found is None:
            found = self._statements[fref.id] = flatten(fref.info.body)
        return found

    def rebound_parameters(self, fid: str) -> frozenset[str]:
        """Parameters the function binds to a module it builds (`opts = nn.Sequential(*opts.values())`):
        from there on the name holds a new object, and what happens to it is not the caller's.
        Anything else it may be given back (`model = unwrap_model(model)`, `model.to(device)`)
        keeps the caller's object in reach."""
        found = self._rebound.get(fid)
        if found is None:
            fref = self.project.functions[fid]
            params = set(fref.info.params)
            statements = self.statements(fref)
            calls = {stmt.node: stmt for stmt in statements if type(stmt) is ir.Call}
            rebound = set()
            for stmt in statements:
                if type(stmt) is ir.Assign and isinstance(stmt.value, ir.CallValue) and stmt.value.node in calls:
                    if params.intersection(stmt.targets) and self._builds_module(fref, calls[stmt.value.node]):
                        rebound.update(params.intersection(stmt.targets))
            found = self._rebound[fid] = frozenset(rebound)
        return found

    def _builds_module(self, fref: FunctionRef, call: ir.Call) -> bool:
        """Does this call build a new module: a torch or library constructor, or a project class?"""
        qualified = self.project.qualified_callee(fref.file.path, call)
        if qualified is not None and roles.constructs_module(qualified):
            return True
        return call.func is not None and self.project.resolve(fref, call.func) in self.project.classes

    def entry_origin(self, fref: FunctionRef) -> Origin:
        """Where the keys nothing sets in a function get their mode from (one object per function)."""
        found = self._entry_origins.get(fref.id)
        if found is None:
            info = fref.info
            found = self._entry_origins[fref.id] = Origin(ENTRY, fref.file.path, info.node, info.qualname)
        return found

    def method_kind(self, fref: FunctionRef) -> tuple[bool, bool]:
        """(takes its instance or class first, is a classmethod), from its decorators."""
        found = self._method_kinds.get(fref.id)
        if found is None:
            decorators = {d.chain for d in fref.info.decorators}
            found = self._method_kinds[fref.id] = (
                fref.info.class_name is not None and "staticmethod" not in decorators,
                "classmethod" in decorators,
            )
        return found

    def own_loops(self, fref: FunctionRef) -> frozenset[tuple[str, int]]:
        """The ids the walk gives the loops of a function's own body (``Interpreter.loop_id``)."""
        found = self._own_loops.get(fref.id)
        if found is None:
            path = fref.file.path
            found = self._own_loops[fref.id] = frozenset(
                (path, stmt.node) for stmt in self.statements(fref) if type(stmt) is ir.Loop
            )
        return found

    def calls(self, fref: FunctionRef) -> tuple[ir.Call, ...]:
        """Every call of a function's body, the calls of its `with` items included, computed once."""
        found = self._calls.get(fref.id)
        if found is None:
            found = self._calls[fref.id] = tuple(calls_in(self.statements(fref)))
        return found

    def saved_model_role(self, path: str, target: object) -> str | None:
        """The role of the whole model ``path``'s own code saves to the file ``target`` (``saved_models``)."""
        found = self._saved_models.get(path)
        if found is None:
            found = self._saved_models[path] = saved_models_of(self.project, path, self.statements, self.calls)
        return found.get(target) if isinstance(target, str) else None

    def callees(self, fid: str) -> tuple[str, ...]:
        """The project functions a function's calls resolve to (without the walk's local types)."""
        found = self._callees.get(fid)
        if found is None:
            fref = self.project.functions[fid]
            targets = (self.project.resolve(fref, call.func) for call in self.calls(fref) if call.func is not None)
            found = self._callees[fid] = tuple(dict.fromkeys(t for t in targets if t in self.project.functions))
        return found

    def dispatch_overrides(self, fref: FunctionRef, call: ir.Call, self_type: str | None) -> list[str]:
        """``self.hook()`` in a base class reaches the overrides of project subclasses too."""
        if call.func is None or not call.func.startswith("self.") or call.func.count(".") != 1:
            return []
        if self_type is not None or fref.info.class_name is None:
            return []
        return self.project.overrides(function_id(fref.file.path, fref.info.class_name), call.func.split(".")[1])

    def self_variants(self, fid: str) -> tuple[str, ...]:
        """The classes to walk a method for, one walk each, when its ``self.hook()`` calls (its
        own or those of the ``self`` methods it calls) reach different overrides in different
        project subclasses: ``Epoch.run`` calling ``on_epoch_start`` then ``batch_update`` is
        either ``TrainEpoch``'s pair or ``ValidEpoch``'s, never one of each. Empty where every
        class would take the same methods, or where the split would be too wide to walk (the
        walk then joins the overrides at each call, as ``dispatch_overrides`` says)."""
        found = self._self_variants.get(fid)
        if found is None:
            found = self._self_variants[fid] = find_self_variants(self.project, self.project.functions[fid], self.calls, self.method_kind)
        return found

    # -- training ------------------------------------------------------------------------------------

    def trains(self, fid: str, steps_only: bool = False) -> bool:
        """Does this function (or anything it calls in the project) run a training step?"""
        memo = self._trains[steps_only]
        found = memo.get(fid)
        if found is None:
            found = solve(
                fid,
                self.callees,
                lambda f, value_of: any(value_of(g) for g in self.callees(f)),
                False,
                memo,
                lambda f: True if self._trains_directly(f, steps_only) else None,
            )
        return found

    def _trains_directly(self, fid: str, steps_only: bool) -> bool:
        key = (fid, steps_only)
        found = self._direct_training.get(key)
        if found is None:
            fref = self.project.functions[fid]
            found = self._direct_training[key] = any(
                kind is not None and (kind == "step" or not steps_only)
                for kind in (self.is_training_call(fref, call) for call in self.calls(fref))
            )
        return found

    def block_trains(self, fref: FunctionRef, body: tuple[ir.Stmt, ...], steps_only: bool = False) -> bool:
        """Does this code run a training step (a backward or an optimizer step; only the latter
        with ``steps_only``), directly or through the project functions it calls?"""
        for call in calls_in(flatten(body)):
            kind = self.is_training_call(fref, call)
            if kind is not None and (kind == "step" or not steps_only):
                return True
            if call.func is not None:
                target = self.project.resolve(fref, call.func)
                if target in self.project.functions and self.trains(target, steps_only):
                    return True
        return False

    def is_training_call(self, fref: FunctionRef, call: ir.Call) -> str | None:
        key = (fref.id, call.node)
        found = self._training_calls.get(key, _UNSEEN)
        if found is _UNSEEN:
            found = self._training_calls[key] = self._is_training_call(fref, call)
        return found

    def _is_training_call(self, fref: FunctionRef, call: ir.Call) -> str | None:
        qualified = self.project.qualify(fref.file.path, call.func) if call.func is not None else None
        kind = step_calls.training_call_kind(call, qualified, self.extra_step_calls)
        if kind is None and step_calls.hands_over_an_optimizer(call) and (
            call.func is None or self.project.resolve(fref, call.func) is None
        ):
            # `loss_scaler(loss, optimizer, ...)` (timm, apex, Swin): it backpropagates and steps.
            kind = "step"
        return kind

    def sink_kind(self, fref: FunctionRef, call: ir.Call) -> int:
        """A sink of the data flow: the call backpropagates its operands (``loss.backward()``,
        ``accelerator.backward(loss)``), or it is a project function that trains inside."""
        if call.method in torch_api.BACKWARD_SINK_METHODS:
            return dataflow.BACKWARD
        if call.func is None:
            return 0
        if self.project.qualify(fref.file.path, call.func) in torch_api.BACKWARD_FUNCTIONS:
            return dataflow.BACKWARD
        return dataflow.TRAINS if self._training_callee(fref, call) is not None else 0

    def _training_callee(self, fref: FunctionRef, call: ir.Call) -> str | None:
        """The project function (not ``fref`` itself) a call reaches, if it trains inside."""
        target = self.project.resolve(fref, call.func) if call.func is not None else None
        return target if target in self.project.functions and target != fref.id and self.trains(target) else None

    def globals_trained_by(self, fref: FunctionRef, call: ir.Call) -> frozenset[str]:
        """What a call of a project function that trains reads from its module (a script's
        ``train()`` that steps the global ``encoder``): it may train those too."""
        target = self._training_callee(fref, call)
        return self.free_names(target) if target is not None else frozenset()

    def file_steps(self, path: str) -> bool:
        """Does any function of this file run an optimizer step (itself or through a callee)?"""
        found = self._file_steps.get(path)
        if found is None:
            f = self.project.files[path]
            found = self._file_steps[path] = any(
                self.trains(function_id(path, fn.qualname), steps_only=True) for fn in f.functions
            )
        return found

    def needs_grad(self, fref: FunctionRef) -> bool:
        """The function asks for gradients on purpose (saliency, adversarial evaluation)."""
        cached = self._needs_grad.get(fref.id)
        if cached is None:
            cached = False
            for call in self.calls(fref):
                if call.func and self.project.qualify(fref.file.path, call.func) in torch_api.GRAD_REQUIRING_FUNCTIONS:
                    cached = True
                elif call.method == "requires_grad_" and (not call.args or const(call.args[0]) is True):
                    cached = True
            self._needs_grad[fref.id] = cached
        return cached

    # -- names -----------------------------------------------------------------------------------------

    def tracks_items(self, fref: FunctionRef, key: str) -> bool:
        """Can a walk of this function follow what the list ``key`` holds (``lattice.ELEMENTS_OF``)?
        Only where nothing outside the walk reaches the list: a plain name of the function (of a
        module's own code only in a file no other file imports), whose items are never assigned
        (``xs[i] = m``), that no other function reads as a free name (a closure, a callback, a
        function of the same module), in a function that yields nothing."""
        found = self._item_tracking.get((fref.id, key))
        if found is None:
            found = self._item_tracking[(fref.id, key)] = list_is_walked_whole(self, fref, key)
        return found

    def imported_modules(self) -> frozenset[str]:
        """Every module some project file imports."""
        if self._imported_modules is None:
            self._imported_modules = frozenset(t for imports in self.project.imports.values() for t in imports.values())
        return self._imported_modules

    def file_functions(self, path: str) -> list[str]:
        """The ids of a file's functions, its module code included."""
        if self._file_functions is None:
            self._file_functions = {}
            for fid, other in self.project.functions.items():
                self._file_functions.setdefault(other.file.path, []).append(fid)
        return self._file_functions.get(path, [])

    def own_free_names(self, fid: str) -> frozenset[str]:
        """Names a function itself reads without binding them (its callees' left out)."""
        return self._free_names_of(fid, lambda _: frozenset())

    def free_names(self, fid: str) -> frozenset[str]:
        """Names a function reads without binding them, with those of the same-file functions it calls."""
        found = self._free_names.get(fid)
        if found is None:
            found = solve(fid, self._same_file_callees, self._free_names_of, frozenset(), self._free_names)
        return found

    def _same_file_callees(self, fid: str) -> tuple[str, ...]:
        path = self.project.functions[fid].file.path
        return tuple(g for g in self.callees(fid) if self.project.functions[g].file.path == path)

    def _free_names_of(self, fid: str, value_of) -> frozenset[str]:
        fref = self.project.functions[fid]
        local = fref.info.local_names | set(fref.info.params)
        names: set[str] = set()
        for stmt in self.statements(fref):
            for value in values_of(stmt):
                if isinstance(value, (ir.RefValue, ir.TrainingFlagValue)):
                    names.add(value.key.split(".")[0].split("[")[0])
            if isinstance(stmt, ir.Call) and stmt.func is not None:
                names.add(stmt.func.split(".")[0])
        for callee in self._same_file_callees(fid):
            names |= value_of(callee)
        return frozenset(name for name in names if name not in local)

    def module_receivers(self, fref: FunctionRef) -> frozenset[str]:
        cached = self._module_receivers.get(fref.id)
        if cached is None:
            keys = set()
            for call in self.calls(fref):
                if call.method in torch_api.MODULE_ONLY_METHODS and isinstance(call.receiver, ir.RefValue):
                    keys.add(call.receiver.key)
            cached = frozenset(keys)
            self._module_receivers[fref.id] = cached
        return cached

    def class_receivers(self, class_id: str) -> frozenset[str]:
        cached = self._class_receivers.get(class_id)
        if cached is None:
            keys: set[str] = set()
            for method_id in self.project.methods.get(class_id, {}).values():
                if method_id in self.project.functions:
                    keys |= {k for k in self.module_receivers(self.project.functions[method_id]) if k.startswith("self.")}
            cached = frozenset(keys)
            self._class_receivers[class_id] = cached
        return cached

    def receivers_in(self, fref: FunctionRef, class_id: str | None) -> frozenset[str]:
        """The keys a function's code (or, in a method, its class's code on ``self``) uses as modules."""
        cached = self._receivers_in.get(fref.id)
        if cached is None:
            cached = self.module_receivers(fref)
            if class_id is not None:
                cached |= self.class_receivers(class_id)
            self._receivers_in[fref.id] = cached
        return cached

    def delegates_mode_switch(self, fid: str) -> bool:
        """A module's own ``train(mode)`` (or ``eval()``) that hands the switch to
        ``super().train(mode)`` around some bookkeeping (flushing a buffer): calling it switches
        the mode as ``nn.Module``'s does."""
        found = self._delegated_switches.get(fid)
        if found is None:
            fref = self.project.functions[fid]
            name = fref.info.name
            statements = self.statements(fref)
            supers = {stmt.node for stmt in statements if type(stmt) is ir.Call and stmt.func == "super"}
            found = any(
                type(stmt) is ir.Call and stmt.method == name and (
                    (isinstance(stmt.receiver, ir.CallValue) and stmt.receiver.node in supers)
                    or (stmt.func is not None and self.project.qualify(fref.file.path, stmt.func) == f"torch.nn.Module.{name}")
                )
                for stmt in statements
            )
            self._delegated_switches[fid] = found
        return found

    def class_train_calls(self, class_id: str) -> frozenset[str]:
        """Keys on which some method of the class (or its project bases) calls ``train()``."""
        cached = self._class_train_calls.get(class_id)
        if cached is None:
            keys: set[str] = set()
            todo, seen = [class_id], set()
            while todo:
                cid = todo.pop()
                if cid in seen or cid not in self.project.classes:
                    continue
                seen.add(cid)
                todo.extend(self.project.base_ids(cid))
                for method_id in self.project.methods.get(cid, {}).values():
                    fref = self.project.functions.get(method_id)
                    if fref is None:
                        continue
                    for call in self.calls(fref):
                        if call.method == "train" and isinstance(call.receiver, ir.RefValue):
                            keys.add(call.receiver.key)
            cached = frozenset(keys)
            self._class_train_calls[class_id] = cached
        return cached

    def module_constant(self, path: str, name: str):
        """The literal a module assigns to ``name`` once, at its top level (None otherwise)."""
        found = self._module_constants.get(path)
        if found is None:
            fref = self.project.functions.get(function_id(path, "<module>"))
            seen: dict[str, list] = {}
            for stmt in fref.info.body if fref is not None else ():
                if type(stmt) is ir.Assign:
                    for target in stmt.targets:
                        if target is not None:
                            seen.setdefault(target, []).append(const(stmt.value))
            top = {id(stmt) for stmt in fref.info.body} if fref is not None else set()
            for stmt in self.statements(fref) if fref is not None else ():
                if type(stmt) is ir.Assign and id(stmt) not in top:  # assigned again in a block
                    for target in stmt.targets:
                        if target in seen:
                            seen[target].append(None)
            found = self._module_constants[path] = {k: v[0] for k, v in seen.items() if len(v) == 1}
        return found.get(name)

    def module_rebinds(self, path: str, name: str) -> bool:
        """Does the module's own code assign ``name`` (an imported module's name reused for a value)?"""
        found = self._module_assigned.get(path)
        if found is None:
            fref = self.project.functions.get(function_id(path, "<module>"))
            statements = self.statements(fref) if fref is not None else ()
            found = self._module_assigned[path] = frozenset(
                target for stmt in statements if type(stmt) is ir.Assign for target in stmt.targets if target
            )
        return name in found

    def is_model_type(self, type_id: str) -> bool:
        """False for values known not to be models: losses, metrics, parameter-free modules."""
        return self.type_role(type_id) != roles.NOT_MODEL

    def type_role(self, type_id: str) -> str:
        if type_id.startswith(ONE_OF_CLASSES):
            found = {self.type_role(class_id) for class_id in classes_of_choice(type_id)}
            return found.pop() if len(found) == 1 else roles.UNSEEN
        if type_id in roles.MARKERS:
            return type_id
        if type_id.startswith(ELEMENTS_OF):
            return roles.NOT_MODEL
        if type_id.startswith(MODE_FREE_INSTANCE):
            return roles.MODE_FREE
        if type_id in self.project.classes:
            if self.is_module_class(type_id):
                return self.roles.class_role(type_id)
            if all(is_plain_base(base) for base in self.project.qualified_bases(type_id)):
                # A plain Python class (a hand-written perceptron whose `train()` is its own
                # update loop) has no mode, whatever its instances are called.
                return roles.NOT_MODEL
            if any(
                base.startswith(torch_api.OTHER_FRAMEWORK_PREFIXES)
                for class_id in (type_id, *self.project.ancestors(type_id))
                for base in self.project.qualified_bases(class_id)
            ):
                return roles.NOT_MODEL  # a Keras or Flax model: no torch mode, no autograd graph
        return roles.UNSEEN

    def is_module_class(self, class_id: str) -> bool:
        if class_id.startswith(ONE_OF_CLASSES):
            return all(self.is_module_class(choice) for choice in classes_of_choice(class_id))
        class_id = class_of_type(class_id)
        verdict = self._module_classes.get(class_id)
        if verdict is None:
            verdict = self._module_classes[class_id] = class_id in self.project.classes and any(
                base in torch_api.MODULE_BASES or base.endswith((".Module", "LightningModule", "PreTrainedModel"))
                for base in self.project.qualified_bases(class_id)
            )
        return verdict


    # -- regions -----------------------------------------------------------------------------------------

    def function_region(self, fref: FunctionRef) -> Region | None:
        if fref.id not in self._regions:
            self._regions[fref.id] = self._function_region(fref)
        return self._regions[fref.id]

    def _function_region(self, fref: FunctionRef) -> Region | None:
        info = fref.info
        path = fref.file.path
        class_id = self.project.class_of_method(fref)
        if class_id is not None:
            # (Lightning's own LightningModule, and its subclasses in Lightning's source, count
            # too: their hooks are the trainer's to call.)
            lineage = (class_id, *self.project.ancestors(class_id))
            bases = (*self.project.qualified_bases(class_id), *(self.project.classes[c].info.qualname for c in lineage))
            if any(b in torch_api.LIGHTNING_BASES or b.endswith("LightningModule") for b in bases):
                if info.name in torch_api.LIGHTNING_EVAL_HOOKS:
                    return Region("managed-eval", path, info.node, f"{info.name}()")
                if info.name in torch_api.LIGHTNING_TRAIN_HOOKS:
                    return Region("managed-train", path, info.node, f"{info.name}()")
            if any(b in torch_api.HF_TRAINER_BASES or b.endswith(".Trainer") for b in bases):
                return Region("managed-eval", path, info.node, f"{info.name}()")
        if info.qualname != "<module>" and self.trains(fref.id):
            return Region("train", path, info.node, f"{info.name}()")
        if info.qualname == "<module>":
            return None
        words = set(identifier_words(info.name))
        if class_id is not None and words & _TEST_WORDS and not words & EVAL_FUNCTION_WORDS - _TEST_WORDS and self.is_module_class(class_id):
            # A model's own `test()` / `forward_jit_test()` checks the module (scripting, a
            # metric on embeddings its caller computed): only predict/infer-like names evaluate.
            return None
        # Only names are evidence here: a @torch.no_grad() function may be acting in an RL loop,
        # sampling, or updating an EMA copy, where train mode can be intended.
        if is_eval_function_name(info.name, is_test_module(fref.file)) or self.matches_extra_eval(info.name):
            return Region("eval", path, info.node, f"{info.name}()")
        return None

    def matches_extra_eval(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.extra_eval_patterns)

    def loop_region(self, fref: FunctionRef, loop: ir.Loop) -> Region | None:
        key = (fref.id, loop.node)
        if key not in self._loop_regions:
            self._loop_regions[key] = self._loop_region(fref, loop)
        return self._loop_regions[key]

    def _loop_region(self, fref: FunctionRef, loop: ir.Loop) -> Region | None:
        label = f"the loop over {loop.iter_text}"
        path = fref.file.path
        evaluation_data = not loop.is_while and is_eval_loader(loop.iter_words)
        if evaluation_data and not self.block_trains(fref, loop.body, steps_only=True):
            # Backward passes over validation data without an optimizer step compute gradients
            # for analysis (saliency, attribution): still evaluation.
            return Region("eval", path, loop.node, label, True)
        if self.block_trains(fref, loop.body):
            return Region("train", path, loop.node, label, True)
        return None


_PLAIN_BASES = frozenset(
    {"object", "abc.ABC", "ABC", "typing.Generic", "Generic", "typing.Protocol", "Protocol", "Exception",
     "enum.Enum", "Enum", "dict", "list", "typing.NamedTuple", "NamedTuple", "unittest.TestCase"}
)


def is_plain_base(name: str) -> bool:
    """Bases whose methods are not hooks a framework calls (modules' methods are their own business)."""
    return name in _PLAIN_BASES or name.endswith(".Module") or name == "Module" or name.startswith("typing.")
