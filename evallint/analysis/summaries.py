"""Whole-project analysis: walk every function in the states its callers give it.

Functions are analysed on demand and memoised by their entry state: when the
walk of a caller reaches a call to a project function, the caller's state is
mapped onto the callee's parameters (and ``self``, closures and module
globals), the callee is walked from that entry (or the memo answers), and its
exit state is mapped back. So ``validate(model)`` that calls ``model.eval()``
leaves the caller's ``model`` in eval, and a helper reached in train mode from
one caller and in eval mode from another is judged once per state, never in
a mix of the two. Functions nobody in the project calls are roots, analysed
from a default entry (a model nothing has switched is in train mode, grad on).

Anything the analysis cannot resolve lowers what is known (an ``unknown``
possibility) rather than guessing; rules stay silent on unknown.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass

from evallint.analysis import dataflow, ir, roles, torch_api
from evallint.analysis.callgraph import FUNCTION_VALUE, FunctionRef, ProjectIndex, function_id
from evallint.analysis.facts import (
    BareModeAttribute,
    CallerInfo,
    ContextInfo,
    GradContextNotEntered,
    ModelForward,
    ProjectFacts,
    Reveal,
    TrainingForward,
)
from evallint.analysis.flow import Region, Walker
from evallint.analysis.index import identifier_words, key_of_chain
from evallint.analysis.lattice import (
    CONSTRUCTED,
    CONTEXT,
    DEFAULT,
    ENTRY,
    EVAL,
    GRAD_OFF,
    GRAD_ON,
    LOADED,
    PRETRAINED,
    SET_BY_CALL,
    TRAIN,
    UNKNOWN,
    UNRESOLVED,
    Facts,
    Origin,
    Pending,
    Poss,
    State,
    feasible,
    forget_loops,
    join_all,
    join_facts,
)
from evallint.analysis.roles import constructs_module
from evallint.analysis.regions import is_eval_function_name, is_eval_loader, is_test_module, looks_like_model
from evallint.strict import strict
from evallint.internal_errors import InternalError, describe

MAX_CONTEXTS_PER_FUNCTION = 8
_GRAD_ON_BY_DEFAULT = frozenset({Poss(GRAD_ON, Origin(DEFAULT))})
MAX_ANALYSES = 100000
MAX_CALL_DEPTH = 40  # deeper call chains are treated as unresolved calls
ROOT_GROUPS = 2  # fixed, whatever --jobs says: results must not depend on the machine
NEUTRAL_CONTEXT = ContextInfo("neutral", "")
_UNSEEN = object()


@dataclass
class Summary:
    exit: State
    yielded: State | None
    returned: Facts | None
    returned_role: str | None = None  # roles.NOT_MODEL or MODE_FREE: a factory of losses or plain layers


class Analyzer:
    """Runs the interprocedural analysis over a project and collects facts."""

    def __init__(self, project: ProjectIndex, settings=None) -> None:
        self.project = project
        self.settings = settings
        self.facts = ProjectFacts()
        self.memo: dict[tuple, Summary | None] = {}
        self.contexts: dict[str, int] = {}
        self.stack: list[str] = []
        self.analyses = 0
        self._trains: dict[tuple[str, bool], bool] = {}
        self._module_receivers: dict[str, frozenset[str]] = {}
        self._receivers_in: dict[str, frozenset[str]] = {}
        self._module_classes: dict[str, bool] = {}
        self.model_verdicts: dict[str, dict[str, bool | None]] = {}  # see Interpreter.is_model
        self._class_receivers: dict[str, frozenset[str]] = {}
        self._class_train_calls: dict[str, frozenset[str]] = {}
        self._scan = None  # evallint.analysis.relevance.CallScan, built on first use
        self.referenced: set[str] = set()
        self._init_exit: dict[str, State | None] = {}
        self._needs_grad: dict[str, bool] = {}
        self._free_names: dict[str, frozenset[str]] = {}
        self._regions: dict[str, Region | None] = {}
        self._statements: dict[str, tuple[ir.Stmt, ...]] = {}
        self._calls: dict[str, tuple[ir.Call, ...]] = {}
        self._own_loops: dict[str, frozenset[tuple[str, int]]] = {}
        self._module_assigned: dict[str, frozenset[str]] = {}
        self._training_calls: dict[tuple[str, int], str | None] = {}
        self._module_constants: dict[str, dict] = {}
        self._file_steps: dict[str, bool] = {}
        self._entry_origins: dict[str, Origin] = {}
        self._method_kinds: dict[str, tuple[bool, bool]] = {}
        self.loop_regions: dict[tuple, Region | None] = {}
        extra_eval = tuple(getattr(settings, "eval_function_patterns", ()) or ())
        self.extra_eval_patterns = extra_eval
        self.extra_model_names = frozenset(getattr(settings, "model_names", ()) or ())
        self.extra_step_calls = frozenset(getattr(settings, "training_step_calls", ()) or ())
        self.roles = roles.Roles(
            project, self.statements, self.is_module_class, self.sink_kind, lambda fref: self.trains(fref.id, steps_only=True)
        )

    def statements(self, fref: FunctionRef) -> tuple[ir.Stmt, ...]:
        """Every statement of a function's body, nested blocks included (pre-order), computed once."""
        found = self._statements.get(fref.id)
        if found is None:
            found = self._statements[fref.id] = _flatten(fref.info.body)
        return found

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
            found = self._calls[fref.id] = tuple(_calls_in(self.statements(fref)))
        return found

    # -- driver ------------------------------------------------------------------------------------

    def run(self, reported_files: frozenset[str] | None = None, map_pieces=None) -> ProjectFacts:
        """Scan every call, walk the roots group by group (see ``root_groups``) and collect the
        syntactic facts; ``map_pieces`` may run the pieces apart (``project_walk``), with the
        same facts."""
        from evallint.analysis.project_walk import walk_project

        return walk_project(self, reported_files, map_pieces)

    def scan(self):
        """The scan of every call and reference (``relevance.CallScan``), made on first use."""
        if self._scan is None:
            from evallint.analysis.relevance import scan_calls

            self.adopt_scan(scan_calls(self))
        return self._scan

    def adopt_scan(self, scan) -> None:
        """Use a scan made elsewhere: the merged halves that two processes scanned."""
        self._scan = scan
        # Functions used as values (passed as callbacks, returned, stored) have callers evallint
        # cannot see: they start from an unknown state.
        self.referenced = scan.referenced

    def file_halves(self) -> list[list[str]]:
        """The project's files in two halves, alternating in path order: each of two processes
        scans the calls of one."""
        files = sorted(self.project.files)
        return [files[0::2], files[1::2]]

    def scan_halves(self) -> list[list[str]]:
        """The functions of each of the ``file_halves``."""
        half_of = {path: number for number, half in enumerate(self.file_halves()) for path in half}
        halves: list[list[str]] = [[], []]
        for fid, fref in self.project.functions.items():
            halves[half_of[fref.file.path]].append(fid)
        return halves

    def root_groups(self, reported_files: frozenset[str] | None = None) -> list[list[str]]:
        """The roots worth walking (those that may reach a finding), in ROOT_GROUPS fixed groups.

        Each group is walked by its own analyzer, so that the groups can run in parallel and
        still give exactly what a sequential run gives: a function reached from two groups is
        walked in each (memo entries, context limits and first-caller labels never cross
        groups). So the groups are formed to share few callees (``partition``); a file's roots
        stay together.

        With ``reported_files`` (pre-commit passes a few files of a large project), only the
        roots that may reach a function of those files are kept: every fact a finding comes
        from is recorded in a function the walk reached. The groups are formed first, so a
        root stays in the group it has in a run over the whole project.
        """
        from evallint.analysis.partition import partition
        from evallint.analysis.relevance import reaching, relevant_functions

        scan = self.scan()
        relevant = relevant_functions(scan)
        roots_by_file: dict[str, list[str]] = {}
        for fid in sorted(self.project.functions):
            if fid not in scan.called and fid in relevant:
                roots_by_file.setdefault(self.project.functions[fid].file.path, []).append(fid)
        groups = partition(roots_by_file, scan.callees(), self.walk_cost, ROOT_GROUPS)
        if reported_files is not None:
            targets = {fid for fid, fref in self.project.functions.items() if fref.file.path in reported_files}
            reach = reaching(scan, targets)
            groups = [[fid for fid in group if fid in reach] for group in groups]
        return groups

    def walk_cost(self, node) -> int:
        """What walking a function once costs, roughly: its statements, as the scan (of every
        function) counted them; nothing for a node of the call scan that is no function, see
        ``relevance.instances_node``."""
        return 1 + self.scan().sizes[node] if node in self.project.functions else 0

    def fresh(self) -> "Analyzer":
        """An analyzer for one group of roots: it shares what depends on the project alone
        (the call scan, flattened bodies) and starts every walk-dependent memo empty."""
        other = Analyzer(self.project, self.settings)
        other._scan = self._scan
        other.referenced = self.referenced
        other._statements = self._statements
        other._calls = self._calls
        other._own_loops = self._own_loops
        other._entry_origins = self._entry_origins
        other._method_kinds = self._method_kinds
        other._training_calls = self._training_calls
        other._module_receivers = self._module_receivers
        other._receivers_in = self._receivers_in
        other._module_classes = self._module_classes
        other.model_verdicts = self.model_verdicts
        other.roles = self.roles
        return other

    def walk_roots(self, roots: list[str]) -> ProjectFacts:
        for fid in roots:
            self.analyze(fid, self.root_entry(self.project.functions[fid]), NEUTRAL_CONTEXT, None)
        return self.facts

    def dispatch_overrides(self, fref: FunctionRef, call: ir.Call, self_type: str | None) -> list[str]:
        """``self.hook()`` in a base class reaches the overrides of project subclasses too."""
        if call.func is None or not call.func.startswith("self.") or call.func.count(".") != 1:
            return []
        if self_type is not None or fref.info.class_name is None:
            return []
        return self.project.overrides(function_id(fref.file.path, fref.info.class_name), call.func.split(".")[1])

    def root_entry(self, fref: FunctionRef) -> State:
        entry = State(entry=self.entry_origin(fref))
        # Grad is on by default; one shared origin keeps callees' memo entries from splitting per caller.
        entry.grad = _GRAD_ON_BY_DEFAULT
        if fref.info.qualname != "<module>" and self.module_grad_off(fref.file):
            # (The module's own code meets the switch where it stands, in its walk.)
            entry.grad = frozenset({Poss(GRAD_OFF, Origin(CONTEXT, fref.file.path, -1, "<module>"))})
        unseen_callers = fref.id in self.referenced or self.overrides_framework_method(fref)
        if unseen_callers:
            entry.unknown_roots = frozenset({"*"})
            entry.grad = frozenset({Poss(UNKNOWN, Origin(UNRESOLVED, fref.file.path, fref.info.node, fref.info.qualname))})
        class_id = self.project.class_of_method(fref)
        if class_id is not None and fref.info.name != "__init__" and fref.info.params:
            region = self.function_region(fref)
            own_evaluation = region is not None and region.kind == "eval" and self.is_module_class(class_id)
            if not unseen_callers and not own_evaluation:
                entry.unknown_roots = frozenset({fref.info.params[0]})
            if own_evaluation:
                entry.types[fref.info.params[0]] = class_id
            # A model's own `predict()` runs in whatever mode training left it: it must set eval()
            # itself, so its `self` starts as any new module does, in train mode.
            init_state = self.init_exit(class_id)
            if init_state is not None:
                for key, facts in init_state.modes.items():
                    if key.startswith("self."):
                        entry.modes[key] = facts
                # `self.model = model; self.model.eval()`: the switch reached the parameter it aliases.
                for key, target in init_state.aliases.items():
                    if key.startswith("self.") and key not in entry.modes and init_state.has_mode(target):
                        entry.modes[key] = init_state.mode_of(target)
                entry.frozen = frozenset(k for k in init_state.frozen if k.startswith("self."))
                for key, type_id in init_state.types.items():
                    if type_id in roles.MARKERS and key.startswith("self."):
                        entry.types[key] = type_id
        return entry

    def overrides_framework_method(self, fref: FunctionRef) -> bool:
        """A method nobody in the project calls that overrides a base-class method is a hook some
        framework calls (fairseq's `valid_step`, a trainer's `evaluate`): its callers are unseen."""
        class_id = self.project.class_of_method(fref)
        name = fref.info.name
        if class_id is None or name.startswith("__"):
            return False
        if any(self.project.method_of(base, name) for base in self.project.base_ids(class_id)):
            return True
        if name.startswith("_"):
            return False
        return any(not _is_plain_base(base) for base in self.project.qualified_bases(class_id))

    def init_exit(self, class_id: str) -> State | None:
        if class_id in self._init_exit:
            return self._init_exit[class_id]
        self._init_exit[class_id] = None
        init = self.project.method_of(class_id, "__init__")
        result = None
        if init is not None:
            fref = self.project.functions[init]
            entry = State(entry=self.entry_origin(fref))
            entry.grad = _GRAD_ON_BY_DEFAULT
            summary = self.analyze(init, entry, NEUTRAL_CONTEXT, None)
            result = summary.exit if summary is not None else None
        self._init_exit[class_id] = result
        return result

    def module_grad_off(self, f: ir.FileIndex) -> bool:
        module = next((fn for fn in f.functions if fn.qualname == "<module>"), None)
        if module is None:
            return False
        for stmt in module.body:
            if isinstance(stmt, ir.Call) and stmt.func is not None:
                if self.project.qualify(f.path, stmt.func) in torch_api.SET_GRAD_ENABLED:
                    if stmt.args and isinstance(stmt.args[0], ir.ConstValue) and stmt.args[0].value is False:
                        return True
        return False

    def analyze(self, fid: str, entry: State, ctx: ContextInfo, caller: CallerInfo | None) -> Summary | None:
        # The context's kind decides facts; its label only words messages (the first caller's is kept).
        key = (fid, _fingerprint(entry), ctx.kind)
        if key in self.memo:
            return self.memo[key]
        if fid in self.stack or self.analyses >= MAX_ANALYSES or len(self.stack) >= MAX_CALL_DEPTH:
            return None
        count = self.contexts.get(fid, 0)
        if count >= MAX_CONTEXTS_PER_FUNCTION:
            return None
        self.contexts[fid] = count + 1
        self.analyses += 1
        self.stack.append(fid)
        try:
            summary = Interpreter(self, self.project.functions[fid], ctx, caller).run(entry)
        except Exception as error:
            # A construct the analysis mishandles lowers what is known about this one function
            # (its callers see an unresolved call); it never takes the run down, and is reported.
            if strict():
                raise
            fref = self.project.functions[fid]
            self.facts.internal_errors.append(
                InternalError("analysing", fref.file.path, fref.info.qualname, describe(error))
            )
            summary = None
        finally:
            self.stack.pop()
        self.memo[key] = summary
        return summary

    # -- evidence that does not depend on the state ---------------------------------------------

    def trains(self, fid: str, steps_only: bool = False) -> bool:
        """Does this function (or anything it calls in the project) run a training step?"""
        key = (fid, steps_only)
        if key in self._trains:
            return self._trains[key]
        self._trains[key] = False
        fref = self.project.functions[fid]
        result = self.calls_train(fref, self.calls(fref), steps_only)
        self._trains[key] = result
        return result

    def block_trains(self, fref: FunctionRef, body: tuple[ir.Stmt, ...], steps_only: bool = False) -> bool:
        """Does this code run a training step (a backward or an optimizer step; only the latter
        with ``steps_only``), directly or through the project functions it calls?"""
        return self.calls_train(fref, _calls_in(_flatten(body)), steps_only)

    def calls_train(self, fref: FunctionRef, calls, steps_only: bool) -> bool:
        for call in calls:
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
        method = call.method
        if method in ("backward", "manual_backward"):
            return "backward"
        if call.func is not None:
            qualified = self.project.qualify(fref.file.path, call.func)
            if qualified in torch_api.BACKWARD_FUNCTIONS:
                return "backward"
            if call.func in self.extra_step_calls or qualified in self.extra_step_calls:
                return "step"
        if method in torch_api.STEP_METHODS and isinstance(call.receiver, ir.RefValue):
            if _names_an_optimizer(call.receiver.key.rpartition(".")[2]):
                return "step"
        if _hands_over_an_optimizer(call) and (call.func is None or self.project.resolve(fref, call.func) is None):
            # `loss_scaler(loss, optimizer, ...)` (timm, apex, Swin): it backpropagates and steps.
            return "step"
        return None

    def sink_kind(self, fref: FunctionRef, call: ir.Call) -> int:
        """A sink of the data flow: the call backpropagates its operands (``loss.backward()``,
        ``accelerator.backward(loss)``), or it is a project function that trains inside."""
        if call.method in torch_api.BACKWARD_SINK_METHODS:
            return dataflow.BACKWARD
        if call.func is None:
            return 0
        if self.project.qualify(fref.file.path, call.func) in torch_api.BACKWARD_FUNCTIONS:
            return dataflow.BACKWARD
        target = self.project.resolve(fref, call.func)
        return dataflow.TRAINS if target in self.project.functions and target != fref.id and self.trains(target) else 0

    def free_names(self, fid: str) -> frozenset[str]:
        """Names a function reads without binding them, with those of the same-file functions it calls."""
        cached = self._free_names.get(fid)
        if cached is not None:
            return cached
        self._free_names[fid] = frozenset()  # cycles see what is known so far
        fref = self.project.functions[fid]
        local = fref.info.local_names | set(fref.info.params)
        names: set[str] = set()
        for stmt in self.statements(fref):
            for value in _values_of(stmt):
                if isinstance(value, (ir.RefValue, ir.TrainingFlagValue)):
                    names.add(value.key.split(".")[0].split("[")[0])
            if isinstance(stmt, ir.Call) and stmt.func is not None:
                names.add(stmt.func.split(".")[0])
                target = self.project.resolve(fref, stmt.func)
                if target in self.project.functions and self.project.functions[target].file.path == fref.file.path:
                    names |= self.free_names(target)
        result = frozenset(name for name in names if name not in local)
        self._free_names[fid] = result
        return result

    def needs_grad(self, fref: FunctionRef) -> bool:
        """The function asks for gradients on purpose (saliency, adversarial evaluation)."""
        cached = self._needs_grad.get(fref.id)
        if cached is None:
            cached = False
            for call in self.calls(fref):
                if call.func and self.project.qualify(fref.file.path, call.func) in torch_api.GRAD_REQUIRING_FUNCTIONS:
                    cached = True
                elif call.method == "requires_grad_" and (not call.args or _const(call.args[0]) is True):
                    cached = True
            self._needs_grad[fref.id] = cached
        return cached

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

    def file_steps(self, path: str) -> bool:
        """Does any function of this file run an optimizer step (itself or through a callee)?"""
        found = self._file_steps.get(path)
        if found is None:
            f = self.project.files[path]
            found = self._file_steps[path] = any(
                self.trains(function_id(path, fn.qualname), steps_only=True) for fn in f.functions
            )
        return found

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
                            seen.setdefault(target, []).append(_const(stmt.value))
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
        if type_id in roles.MARKERS:
            return type_id
        if type_id in self.project.classes:
            if self.is_module_class(type_id):
                return self.roles.class_role(type_id)
            if all(_is_plain_base(base) for base in self.project.qualified_bases(type_id)):
                # A plain Python class (a hand-written perceptron whose `train()` is its own
                # update loop) has no mode, whatever its instances are called.
                return roles.NOT_MODEL
        return roles.UNSEEN

    def is_module_class(self, class_id: str) -> bool:
        verdict = self._module_classes.get(class_id)
        if verdict is None:
            verdict = self._module_classes[class_id] = class_id in self.project.classes and any(
                base in torch_api.MODULE_BASES or base.endswith((".Module", "LightningModule", "PreTrainedModel"))
                for base in self.project.qualified_bases(class_id)
            )
        return verdict

    def function_region(self, fref: FunctionRef) -> Region | None:
        if fref.id not in self._regions:
            self._regions[fref.id] = self._function_region(fref)
        return self._regions[fref.id]

    def _function_region(self, fref: FunctionRef) -> Region | None:
        info = fref.info
        path = fref.file.path
        class_id = self.project.class_of_method(fref)
        if class_id is not None:
            bases = self.project.qualified_bases(class_id)
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
        # Only names are evidence here: a @torch.no_grad() function may be acting in an RL loop,
        # sampling, or updating an EMA copy, where train mode can be intended.
        if is_eval_function_name(info.name, is_test_module(fref.file)) or self._matches_extra_eval(info.name):
            return Region("eval", path, info.node, f"{info.name}()")
        return None

    def _matches_extra_eval(self, name: str) -> bool:
        import fnmatch

        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.extra_eval_patterns)

    # -- syntactic facts ------------------------------------------------------------------------------

    def syntactic_facts(self, paths: list[str] | None = None) -> ProjectFacts:
        """The facts read from the code alone, whatever state it runs in (a bare ``model.eval``,
        a grad context never entered), for the files ``paths`` (all by default)."""
        facts = ProjectFacts()
        for path in self.project.files if paths is None else paths:
            f = self.project.files[path]
            for fn in f.functions:
                # A qualname defined twice in a file (a property's setter) has one id: its first
                # definition is flattened here, not taken from the other's cache entry.
                fref = self.project.functions.get(function_id(f.path, fn.qualname))
                for stmt in self.statements(fref) if fref is not None and fref.info is fn else _flatten(fn.body):
                    if isinstance(stmt, ir.BareAttribute):
                        facts.bare_mode_attributes.append(BareModeAttribute(f.path, stmt.node, stmt.receiver, stmt.attr))
                    elif isinstance(stmt, ir.Call) and stmt.statement and stmt.func is not None:
                        name = self.project.qualify(f.path, stmt.func)
                        if name in torch_api.GRAD_CONTEXT_FACTORIES:
                            facts.grad_contexts_not_entered.append(
                                GradContextNotEntered(f.path, stmt.node, stmt.func, "statement")
                            )
                    elif isinstance(stmt, ir.With):
                        for item in stmt.items:
                            if item.chain is None:
                                continue
                            name = self.project.qualify(f.path, item.chain)
                            if name in torch_api.GRAD_CONTEXT_FACTORIES or name in torch_api.SET_GRAD_ENABLED:
                                facts.grad_contexts_not_entered.append(
                                    GradContextNotEntered(f.path, item.node, item.chain, "uncalled-with")
                                )
        return facts


class Interpreter(Walker):
    """Transfer functions for one walk of one function in one entry context."""

    def __init__(self, analyzer: Analyzer, fref: FunctionRef, ctx: ContextInfo, caller: CallerInfo | None) -> None:
        super().__init__()
        self.analyzer = analyzer
        self.project = analyzer.project
        self.fn = fref
        self.file = fref.file.path
        self.entry_ctx = ctx
        self.caller = caller
        self.regions: list[Region] = []
        self.results: dict[int, tuple] = {}
        self.returned: Facts | None = None
        self.exit_stack: list[tuple] = []  # what `stack.enter_context(...)` entered, as with-item tokens
        self.returned_role: str | None = None
        class_id = self.project.class_of_method(fref)
        self.class_id = class_id
        self.module_receivers = analyzer.receivers_in(fref, class_id)
        # What is_model decides from the function alone, shared by every walk of the function.
        self.model_verdicts = analyzer.model_verdicts.setdefault(fref.id, {})
        self.inside_module_class = class_id is not None and analyzer.is_module_class(class_id)

    # -- running ----------------------------------------------------------------------------------------

    def run(self, entry: State) -> Summary:
        state = entry.copy()
        grad_before = state.grad
        for decorator in self.fn.info.decorators:
            if decorator.chain is None:
                continue
            name = self.project.qualify(self.file, decorator.chain)
            if name in torch_api.GRAD_OFF_CONTEXTS:
                if decorator.called and decorator.args and _const(decorator.args[0]) is False:
                    continue
                state.grad = frozenset({Poss(GRAD_OFF, self.origin(CONTEXT, self.fn.info.node, name))})
            elif name in torch_api.GRAD_ON_CONTEXTS:
                state.grad = frozenset({Poss(GRAD_ON, self.origin(CONTEXT, self.fn.info.node, name))})
            elif self.analyzer.roles.disables_grad(self.project.resolve(self.fn, decorator.chain)):
                # `@smart_inference_mode()`: the project's own decorator wraps the function in one.
                state.grad = frozenset({Poss(GRAD_OFF, self.origin(CONTEXT, self.fn.info.node, decorator.chain))})
        region = self.analyzer.function_region(self.fn)
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
        own_loops = self.analyzer.own_loops(self.fn)
        returned = self.returned
        if own_loops:
            exit_state = exit_state.forget_loops(own_loops)
            yielded = yielded.forget_loops(own_loops) if yielded is not None else None
            returned = forget_loops(returned, own_loops) if returned is not None else None
        exit_state = _outside_own_loops(exit_state, own_loops | {(self.file, self.fn.info.node)})
        return Summary(exit_state, yielded, returned, self.returned_role)

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

    def origin(self, kind: str, node: int, detail: str = "") -> Origin:
        region = self.innermost_region()
        return Origin(
            kind,
            self.file,
            node,
            self.fn.info.qualname,
            (region.file, region.node) if region else (),
            region.kind if region else "",
            detail,
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
        value = self.analyzer.module_constant(self.file, match.group(1))
        return isinstance(value, int) and not isinstance(value, bool) and value > 0

    def loop_region(self, loop: ir.Loop) -> Region | None:
        cache = self.analyzer.loop_regions
        key = (self.fn.id, loop.node)
        if key not in cache:
            cache[key] = self._loop_region(loop)
        return cache[key]

    def _loop_region(self, loop: ir.Loop) -> Region | None:
        label = f"the loop over {loop.iter_text}"
        evaluation_data = not loop.is_while and is_eval_loader(loop.iter_words)
        if evaluation_data and not self.analyzer.block_trains(self.fn, loop.body, steps_only=True):
            # Backward passes over validation data without an optimizer step compute gradients
            # for analysis (saliency, attribution): still evaluation.
            return Region("eval", self.file, loop.node, label, True)
        if self.analyzer.block_trains(self.fn, loop.body):
            return Region("train", self.file, loop.node, label, True)
        return None

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
                name in torch_api.SET_GRAD_ENABLED and item.call.args and _const(item.call.args[0]) is False
            ):
                short = item.call.func.split(".")[-1]
                return Region("eval", self.file, stmt.node, f"the {short}() block")
        return None

    # -- keys ---------------------------------------------------------------------------------------------

    def is_model(self, key: str, state: State) -> bool:
        cls = state.types.get(key)
        if cls is not None and not self.analyzer.is_model_type(cls):
            return False
        verdict = self.model_verdicts.get(key, _UNSEEN)
        if verdict is _UNSEEN:
            verdict = self.model_verdicts[key] = self._model_verdict(key)
        if verdict is not None:
            return verdict
        if key in state.modes:
            return True
        cls = state.types.get(key)
        return cls is not None and self.analyzer.is_module_class(cls)

    def _model_verdict(self, key: str) -> bool | None:
        """What ``is_model`` says of ``key`` in this function whatever the state: False for a name
        the module imports or defines (and the function does not bind), True for a module's
        receiver or a name people give to models, None where the state decides."""
        root = key.partition(".")[0].partition("[")[0]
        info = self.fn.info
        # `import model` then `model = model.RNNModel(...)`: the module's name now holds a model.
        rebound = self.analyzer.module_rebinds(self.file, root)
        if root not in info.local_names and root != "self" and self.project.is_imported_or_defined(self.file, root):
            if not rebound:
                return False
        if root in info.imported_names and not rebound:
            return False
        if key in self.module_receivers:
            return True
        if key == "self" and self.inside_module_class and self.fn.info.params[:1] == ("self",):
            return self.analyzer.is_model_type(self.class_id)  # `self(x)` in a model's own methods
        last = key.rpartition(".")[2]
        if last in self.analyzer.extra_model_names or key in self.analyzer.extra_model_names:
            return True
        return True if looks_like_model(key) else None

    def is_frozen(self, key: str, state: State) -> bool:
        if not state.frozen:
            return False
        parts = key.split(".")
        return any(".".join(parts[:cut]) in state.frozen for cut in range(len(parts), 0, -1))

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
        return state

    def on_reveal(self, stmt: ir.Reveal, state: State) -> None:
        modes = None
        if stmt.key is not None:
            modes = feasible(state.mode_of(state.canonical(stmt.key)), tuple(self.path))
        self.analyzer.facts.reveals.append(
            Reveal(self.file, stmt.node, stmt.key, modes, feasible(state.grad, tuple(self.path)))
        )

    def on_return(self, stmt: ir.Return, state: State) -> None:
        facts = None
        value = stmt.value
        if isinstance(value, ir.RefValue):
            key = state.canonical(value.key)
            if self.is_model(key, state):
                facts = state.mode_of(key)
        elif isinstance(value, ir.CallValue):
            # `return VGG(...)`: a factory's module, in train mode like any new one.
            facts = self.value_facts(value)
            role = self.value_role(value, state)
            if role in roles.MARKERS:
                self.returned_role = role
        if facts is not None:
            self.returned = facts if self.returned is None else join_facts(self.returned, facts)

    def on_assign(self, assign: ir.Assign, state: State) -> State:
        value = assign.value
        targets = assign.targets
        if len(targets) > 1:
            items: tuple[ir.Value, ...] | None = None
            if isinstance(value, ir.TupleValue) and len(value.items) == len(targets):
                items = value.items
            elif isinstance(value, ir.CallValue):
                result = self.results.get(value.node)
                if result is not None and result[0] == "tuple" and len(result[1]) == len(targets):
                    items = result[1]
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
            result = self.results.get(value.node)
            if result is not None and result[0] == "alias" and state.canonical(result[1]) == state.canonical(target):
                return  # `model = model.to(device)`: the same module
            self._unbind(target, state)
            if result is None:
                self._unknown_if_model(target, value.node, state)
                return
            kind = result[0]
            if kind == "not-model":
                state.types[target] = roles.NOT_MODEL
            elif kind == "fresh":
                state.set_mode(target, result[1])
                if len(result) > 2:
                    state.types[target] = result[2]
            elif kind == "alias":
                if result[1] != target:
                    state.aliases[target] = result[1]
            elif kind == "instance":
                class_id, call = result[1], result[2]
                state.types[target] = class_id
                if self.analyzer.is_module_class(class_id) and self.analyzer.roles.class_role(class_id) != roles.NOT_MODEL:
                    state.set_mode(target, frozenset({Poss(TRAIN, self.origin(CONSTRUCTED, call.node))}))
                init = self.project.method_of(class_id, "__init__")
                if init is not None:
                    self.call_function(init, call, state, receiver=target)
            return
        self._unbind(target, state)

    def _unknown_if_model(self, target: str, node: int, state: State) -> None:
        """A model returned by a call evallint cannot follow: its mode is unknown, not "nothing set it"."""
        if self.is_model(target, state):
            state.set_mode(target, frozenset({Poss(UNKNOWN, self.origin(UNRESOLVED, node, "a call"))}))

    def _unbind(self, target: str, state: State) -> None:
        state.aliases.pop(target, None)
        state.types.pop(target, None)
        prefix = target + "."
        for key in [k for k in state.modes if k == target or k.startswith(prefix)]:
            del state.modes[key]
        if target in state.frozen:
            state.frozen = state.frozen - {target}

    # -- with ------------------------------------------------------------------------------------------------

    def enter_with_item(self, item: ir.WithItem, state: State) -> tuple[State, object]:
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
            return state, ("exitstack", len(self.exit_stack))
        grad = self.grad_switch(name, call)
        if grad is not None:
            before = state.grad
            state.grad = grad
            return state, ("grad", before)
        target = self.project.resolve(self.fn, call.func, state.types)
        if target in self.project.functions and self.project.functions[target].info.is_generator:
            entry, mapping = self.callee_entry(target, call, state, None)
            summary = self.analyzer.analyze(target, entry, self.context(), self.here(call))
            if summary is not None and summary.yielded is not None:
                self.map_back(summary.yielded, mapping, state)
                return state, ("contextmanager", summary, mapping)
        self.lower_unresolved(call, state)
        return state, None

    def exit_with_item(self, item: ir.WithItem, token: object, state: State) -> State:
        if not token:
            return state
        if token[0] == "grad":  # type: ignore[index]
            state.grad = token[1]  # type: ignore[index]
        elif token[0] == "contextmanager":  # type: ignore[index]
            summary, mapping = token[1], token[2]  # type: ignore[index]
            if not summary.exit.dead:
                self.map_back(summary.exit, mapping, state)
        elif token[0] == "exitstack":  # type: ignore[index]
            # Leaving `with ExitStack() as stack:` exits what was entered on it, last first.
            mark = token[1]  # type: ignore[index]
            for entered in reversed(self.exit_stack[mark:]):
                state = self.exit_with_item(item, entered, state)
            del self.exit_stack[mark:]
        return state

    def grad_switch(self, name: str, call: ir.Call) -> Facts | None:
        """The grad facts a grad context or ``set_grad_enabled`` call switches to, if it is one."""
        first = call.args[0] if call.args else dict(call.kwargs).get("mode")
        if name in torch_api.GRAD_OFF_CONTEXTS:
            if _const(first) is False:
                return None
            return frozenset({Poss(GRAD_OFF, self.origin(CONTEXT, call.node, name))})
        if name in torch_api.GRAD_ON_CONTEXTS:
            return frozenset({Poss(GRAD_ON, self.origin(CONTEXT, call.node, name))})
        if name in torch_api.SET_GRAD_ENABLED:
            return self.boolean_facts(first, GRAD_ON, GRAD_OFF, CONTEXT, call.node, name, {})
        return None

    def boolean_facts(self, value, when_true: str, when_false: str, kind: str, node: int, detail: str, saved) -> Facts:
        constant = _const(value)
        if constant is True or constant is False:
            return frozenset({Poss(when_true if constant else when_false, self.origin(kind, node, detail), self.guard())})
        if isinstance(value, ir.RefValue) and value.key in saved:
            return saved[value.key]
        cond = None
        if isinstance(value, ir.CondValue):
            cond = value
        elif isinstance(value, ir.RefValue):
            cond = ir.CondValue(value.key, (value.key.split(".")[0],))
        if cond is not None:
            origin = self.origin(kind, node, detail)
            return frozenset(
                {
                    Poss(when_true, origin, (cond.text, not cond.negated, cond.deps)),
                    Poss(when_false, origin, (cond.text, cond.negated, cond.deps)),
                }
            )
        return frozenset({Poss(UNKNOWN, self.origin(UNRESOLVED, node, detail))})

    # -- calls ------------------------------------------------------------------------------------------------

    def on_call(self, call: ir.Call, state: State) -> State:
        qualified = self.project.qualify(self.file, call.func) if call.func else None
        method = call.method
        receiver_key = state.canonical(call.receiver.key) if isinstance(call.receiver, ir.RefValue) else None

        if call.method == "__enter__" and isinstance(call.receiver, ir.CallValue):
            # `torch.no_grad().__enter__()`: grad stays off until the matching `__exit__`.
            entered = self.results.get(call.receiver.node)
            if entered is not None and entered[0] == "grad-context":
                state.grad = entered[1]
            return state
        if call.method == "enter_context" and call.args and isinstance(call.args[0], ir.CallValue):
            entered = self.results.get(call.args[0].node)
            if entered is not None and entered[0] == "grad-context":
                self.exit_stack.append(("grad", state.grad))
                state.grad = entered[1]
            elif entered is not None and entered[0] == "context-manager":
                self.map_back(entered[1].yielded, entered[2], state)
                self.exit_stack.append(("contextmanager", entered[1], entered[2]))
            return state
        if call.func is None and isinstance(call.receiver, ir.CallValue):
            computed = self.results.get(call.receiver.node)
            if computed is not None and computed[0] == "attribute-of-model":
                key, attr = computed[1], computed[2]
                if attr in torch_api.MODE_METHODS:
                    self.switch_mode(key, ir.Call(call.node, None, None, attr, call.args, call.kwargs), state)
                else:
                    state.set_mode(key, frozenset({Poss(UNKNOWN, self.origin(UNRESOLVED, call.node, "getattr"))}))
                return state
            if call.method not in torch_api.SELF_RETURNING_METHODS:
                return state
            # `Net().to(device)`, `Net().cuda().train()`: the chain returns the new module.
        if qualified == "getattr" and len(call.args) >= 2 and isinstance(call.args[0], ir.RefValue):
            key = state.canonical(call.args[0].key)
            if self.is_model(key, state):
                name = _const(call.args[1])
                self.results[call.node] = ("attribute-of-model", key, name if isinstance(name, str) else None)
            return state

        if qualified in torch_api.SET_GRAD_ENABLED:
            grad = self.grad_switch(qualified, call)
            if grad is not None and call.statement:
                # `torch.set_grad_enabled(True)` as a statement restores the global default; only a
                # block or decorator that turns grad on around some code is a choice (EVL201 keeps quiet).
                state.grad = frozenset(
                    Poss(p.value, dataclasses.replace(p.origin, kind=SET_BY_CALL), p.guard, p.carried)
                    if p.value == GRAD_ON and p.origin.kind == CONTEXT
                    else p
                    for p in grad
                )
            elif grad is not None:
                self.results[call.node] = ("grad-context", grad)
            return state
        if qualified in torch_api.GRAD_CONTEXT_FACTORIES:
            grad = self.grad_switch(qualified, call)
            if grad is not None:
                self.results[call.node] = ("grad-context", grad)  # entered later by `with` or enter_context
            return state

        if (
            method is not None
            and receiver_key is not None
            and _runs_the_network(method)
            and (receiver_key == "self" or not (self.inside_module_class and receiver_key.startswith("self.")))
            and self.is_model(receiver_key, state)
            and not self.turns_grad_off(call, state)
        ):
            # `model.forward(x)`, `self.forward(x)` in a model's own `predict()`, `model.encode_image(x)`:
            # the module runs, as it does for `model(x)`.
            self.model_forward(receiver_key, call, state)
            return state
        target = self.project.resolve(self.fn, call.func, state.types) if call.func else None
        if target is None and receiver_key is not None and receiver_key in state.types and method:
            target = self.project.method_of(state.types[receiver_key], method)

        if method in torch_api.MODE_METHODS and target is None:
            if receiver_key is not None:
                self.switch_mode(receiver_key, call, state)
                self.results[call.node] = ("alias", receiver_key)
                return state
            if isinstance(call.receiver, ir.CallValue):
                previous = self.results.get(call.receiver.node)
                role = self.value_role(call.receiver, state)
                if previous is not None and role == roles.NOT_MODEL:
                    self.results[call.node] = previous
                elif previous is not None and previous[0] in ("fresh", "instance"):
                    marker = (roles.MODE_FREE,) if role == roles.MODE_FREE else ()
                    self.results[call.node] = ("fresh", self.mode_facts(call, state), *marker)
                return state

        if method == "requires_grad_" and receiver_key is not None and target is None:
            flag = _const(call.args[0]) if call.args else _const(dict(call.kwargs).get("requires_grad", ir.ConstValue(True)))
            if flag is False:
                state.frozen = state.frozen | {receiver_key}
            else:
                state.frozen = state.frozen - {receiver_key}
            self.results[call.node] = ("alias", receiver_key)
            return state

        if method in torch_api.PRETRAINED_METHODS and target is None:
            # Hugging Face's from_pretrained returns the model in eval mode. A project's own
            # from_pretrained is analysed like any other function below.
            owner = call.receiver.key.rpartition(".")[2] if isinstance(call.receiver, ir.RefValue) else ""
            if owner.endswith(torch_api.NOT_MODEL_PRETRAINED_ENDINGS):
                self.results[call.node] = ("not-model",)
                return state
            self.results[call.node] = (
                "fresh",
                frozenset({Poss(EVAL, self.origin(PRETRAINED, call.node, call.func or method or ""))}),
            )
            return state

        training = self.analyzer.is_training_call(self.fn, call)
        if training is not None:
            self.training_step(call, state, training)
            if training == "step":
                state.pending = {}
            return state

        if target is not None and target in self.project.functions:
            callee = self.project.functions[target]
            if callee.info.is_generator:
                # A context manager built here and entered later (`stack.enter_context(cm(model))`).
                entry, mapping = self.callee_entry(target, call, state, None)
                summary = self.analyzer.analyze(target, entry, self.context(), self.here(call))
                if summary is not None and summary.yielded is not None:
                    self.results[call.node] = ("context-manager", summary, mapping)
                return state
            overrides = self.analyzer.dispatch_overrides(self.fn, call, state.types.get("self"))
            if not overrides:
                self.call_function(target, call, state)
                return state
            # The base method or any subclass override may run: walk each, join what they leave.
            outcomes = []
            for candidate in [target, *overrides]:
                branch = state.copy()
                self.call_function(candidate, call, branch)
                outcomes.append(branch)
            return join_all(outcomes)
        if target is not None and target in self.project.classes:
            self.results[call.node] = ("instance", target, call)
            return state

        forward_key = None
        if call.func is not None and (call.method is None or call.method not in ("forward", "generate")):
            candidate = state.canonical(key_of_chain(call.func))
            if self.is_model(candidate, state):
                forward_key = candidate
        if forward_key is None and method in ("forward", "generate") and receiver_key is not None:
            if self.is_model(receiver_key, state):
                forward_key = receiver_key
        if forward_key is not None:
            self.model_forward(forward_key, call, state)
            return state

        if qualified is not None and constructs_module(qualified):
            role = self.constructed_role(qualified, call, state)
            if role == roles.NOT_MODEL:
                self.results[call.node] = ("not-model",)
            else:
                facts = frozenset({Poss(TRAIN, self.origin(CONSTRUCTED, call.node))})
                self.results[call.node] = ("fresh", facts, roles.MODE_FREE) if role == roles.MODE_FREE else ("fresh", facts)
            return state
        if (
            call.func is not None
            and call.func.rpartition(".")[2] in torch_api.WRAPPER_CALL_NAMES
            and call.args
            and isinstance(call.args[0], ir.CallValue)
            and call.args[0].node in self.results
        ):
            # `torch.compile(Net())`, `DataParallel(Net().cuda())`: the wrapped module itself.
            self.results[call.node] = self.results[call.args[0].node]
            return state
        known = roles.library_role(qualified, call) if qualified is not None else None
        if known is not None:
            facts = frozenset({Poss(TRAIN, self.origin(CONSTRUCTED, call.node))})
            self.results[call.node] = ("fresh", facts, roles.MODE_FREE) if known == roles.MODE_FREE else ("fresh", facts)
            return state
        if qualified in torch_api.WHOLE_MODEL_LOADERS:
            detail = qualified.partition("torch.")[2] and qualified
            self.results[call.node] = ("fresh", frozenset({Poss(TRAIN, self.origin(LOADED, call.node, detail))}))
            return state
        if qualified in torch_api.COPY_FUNCTIONS and call.args and isinstance(call.args[0], ir.RefValue):
            source = state.canonical(call.args[0].key)
            if self.is_model(source, state):
                self.results[call.node] = ("fresh", state.mode_of(source))
            return state
        if method in torch_api.SELF_RETURNING_METHODS:
            if receiver_key is not None:
                self.results[call.node] = ("alias", receiver_key)
            elif isinstance(call.receiver, ir.CallValue) and call.receiver.node in self.results:
                self.results[call.node] = self.results[call.receiver.node]
            return state
        if method == "prepare" and call.args:
            keys = tuple(ir.RefValue(state.canonical(a.key)) if isinstance(a, ir.RefValue) else ir.OTHER for a in call.args)
            self.results[call.node] = ("tuple", keys) if len(keys) > 1 else (
                ("alias", keys[0].key) if isinstance(keys[0], ir.RefValue) else None
            )
            return state
        self.lower_unresolved(call, state)
        return state

    def turns_grad_off(self, call: ir.Call, state: State) -> bool:
        """A project method decorated with `@torch.no_grad()` (pyg's `inference`): walked as the
        function it is, so that its decorator counts."""
        target = self.project.resolve(self.fn, call.func, state.types) if call.func else None
        if target not in self.project.functions:
            return False
        fref = self.project.functions[target]
        for decorator in fref.info.decorators:
            if decorator.chain is None:
                continue
            name = self.project.qualify(fref.file.path, decorator.chain)
            if name in torch_api.GRAD_OFF_CONTEXTS or self.analyzer.roles.disables_grad(self.project.resolve(fref, decorator.chain)):
                return True
        return False

    def constructed_role(self, qualified: str, call: ir.Call, state: State) -> str:
        role = roles.constructor_role(qualified, call)
        if role != roles.CONTAINER:
            return role
        parts = [*call.args, *(value for _, value in call.kwargs)]
        return roles.container_role(self.value_role(value, state) for value in parts)

    def value_role(self, value: ir.Value, state: State) -> str:
        """Is this argument of a container (``nn.Sequential(...)``, ``DataParallel(...)``) a model?"""
        if isinstance(value, ir.RefValue):
            key = state.canonical(value.key)
            if key in state.types:
                return self.analyzer.type_role(state.types[key])
            return roles.MODEL
        if isinstance(value, ir.CallValue):
            result = self.results.get(value.node)
            if result is None:
                return roles.UNSEEN
            if result[0] == "not-model":
                return roles.NOT_MODEL
            if result[0] == "instance":
                if not self.analyzer.is_module_class(result[1]):
                    return roles.NOT_MODEL
                return self.analyzer.roles.class_role(result[1])
            if result[0] == "fresh" and len(result) > 2:
                return result[2]
            return roles.MODEL
        if isinstance(value, (ir.TupleValue, ir.MixValue)):
            items = value.items if isinstance(value, ir.TupleValue) else value.parts
            return roles.container_role(self.value_role(item, state) for item in items)
        return roles.NOT_MODEL

    def mode_facts(self, call: ir.Call, state: State) -> Facts:
        # Under `if was_training:` a switch restores the mode saved before an evaluation: it is
        # no choice made for what follows, so it carries no guard (EVL101 reads guards as choices).
        guard = self.guard()
        if guard and guard[0] in state.saved_flag_keys:
            guard = ()
        if call.method == "eval":
            return frozenset({Poss(EVAL, self.origin(SET_BY_CALL, call.node, "eval()"), guard)})
        value = call.args[0] if call.args else dict(call.kwargs).get("mode")
        if value is None:
            return frozenset({Poss(TRAIN, self.origin(SET_BY_CALL, call.node, "train()"), guard)})
        if isinstance(value, ir.TrainingFlagValue):
            return state.mode_of(state.canonical(value.key))
        if isinstance(value, ir.CondValue):
            detail = f"train({'not ' if value.negated else ''}{value.text})"
        elif isinstance(value, ir.RefValue):
            detail = f"train({value.key})"
        else:
            detail = "train(False)" if _const(value) is False else "train()"
        return self.boolean_facts(value, TRAIN, EVAL, SET_BY_CALL, call.node, detail, state.saved_flags)

    def switch_mode(self, key: str, call: ir.Call, state: State) -> None:
        state.set_mode(key, self.mode_facts(call, state))

    def model_forward(self, key: str, call: ir.Call, state: State) -> None:
        ctx = self.context()
        if self.inside_module_class and key.startswith("self.") and not ctx.kind.startswith("managed"):
            # A module's own submodules follow the module's mode; whoever runs the module sets it.
            # (Lightning hooks are the exception: there the module is the training program.)
            return
        ctx, reaches_backward = self.forward_context(key, call, ctx, state)
        if ctx is None:
            return
        path = tuple(self.path)
        modes = feasible(state.mode_of(key), path)
        grad = feasible(state.grad, path)
        method = call.method if call.method in ("forward", "generate") else "call"
        needs_grad = self._region_needs_grad()
        mode_matters = self.mode_matters(key, state)
        self.analyzer.facts.forwards.append(
            ModelForward(
                self.file, call.node, self.fn.info.qualname, key, method, ctx, modes, grad, needs_grad, self.caller, mode_matters
            )
        )
        if not mode_matters:
            # Its mode changes nothing: no training step can run it in the wrong one.
            self.results[call.node] = None  # type: ignore[assignment]
            return
        if ctx.kind == "managed-train":
            if self.class_id is None or not self._class_restores_train(key):
                self.record_training_forward(key, self.file, call.node, self.fn.info.qualname, modes, call, "lightning")
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
        self.results[call.node] = None  # type: ignore[assignment]

    def mode_matters(self, key: str, state: State) -> bool:
        """Does the mode of this model change what it computes (Dropout, BatchNorm inside)?"""
        parts = key.split(".")
        for cut in range(len(parts), 0, -1):
            type_id = state.types.get(".".join(parts[:cut]))
            if type_id is None:
                continue
            role = self.analyzer.type_role(type_id)
            if cut == len(parts):
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
        role = self.analyzer.roles.forward_role(self.fn, call.node)
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
            and not self.analyzer.roles.flow(self.fn).sinks
            and not set(identifier_words(self.fn.info.name)) & _TRAINING_WORDS
            and (role == roles.LOCAL or self.fn.info.name not in ("forward", "__call__"))
        )
        if (explicit_eval or (role == roles.LOCAL and self.has_weights(key, call))) and not is_test_module(self.fn.file):
            # (A project's own tests compare outputs of models they load or train: no evaluation.)
            label = f"an evaluation forward in {_function_words(self.fn.info)} (its output never reaches a backward())"
            loops = self.analyzer.roles.flow(self.fn).places.get(call.node, ((), -1))[0]
            region = loops[-1] if loops else self.fn.info.node
            return ContextInfo("eval", label, self.file, region, by_flow=True), False
        return ctx, role == roles.RETURNED or not self.analyzer.roles.flow(self.fn).sinks

    def callee_context(self, target: str, call: ir.Call, state: State) -> ContextInfo:
        """A helper that gets a model this function trains, trains nothing itself and whose result
        never reaches a backward evaluates that model (``compute_metrics(model, val_loader)``),
        whatever its name."""
        ctx = self.context()
        if ctx.kind not in ("train", "neutral") or is_test_module(self.fn.file):
            return ctx
        found = self.analyzer.roles
        if found.forward_role(self.fn, call.node) not in (roles.LOCAL, roles.RETURNED) or self.analyzer.trains(target):
            return ctx
        if set(identifier_words(self.project.functions[target].info.name)) & _TRAINING_WORDS:
            # `train_one_epoch(model, ...)` whose backward evallint cannot see (a loss scaler
            # from a library): its name says what it is.
            return ctx
        keys = found.weighted_keys(self.fn)
        if not keys:
            return ctx
        passed = [value.key for value in (*call.args, *(v for _, v in call.kwargs)) if isinstance(value, ir.RefValue)]
        if isinstance(call.receiver, ir.RefValue):
            passed.append(call.receiver.key)
        for key in passed:
            canonical = state.canonical(key)
            if any(k in (key, canonical) or k.startswith((key + ".", canonical + ".")) for k in keys):
                name = self.project.functions[target].info.name
                label = f"{name}() (its result never reaches a backward())"
                return ContextInfo("eval", label, self.file, call.node, by_flow=True)
        return ctx

    def switched_to_eval(self, key: str, state: State) -> bool:
        """Every path put the model in eval mode on purpose (`model.eval()`, `from_pretrained`):
        a forward whose output then goes nowhere near a backward is the evaluation it was for."""
        modes = state.mode_of(key)
        return bool(modes) and all(p.value == EVAL and p.origin.kind in (SET_BY_CALL, PRETRAINED) for p in modes)

    def has_weights(self, key: str, call: ir.Call) -> bool:
        """The model is trained or its weights are loaded in this function, by the time of this
        forward: worth evaluating (a forward before any training only probes the new model)."""
        return self.analyzer.roles.has_weights_at(self.fn, {key, roles.forward_key(call)}, call.node)

    def built_untrained_here(self, key: str, call: ir.Call, state: State) -> bool:
        """A model this very function builds and neither trains nor loads weights into: running
        it checks shapes or smoke-tests the code; it evaluates nothing."""
        modes = state.mode_of(key)
        if not modes or any(not _built_here(p.origin, self.fn.info.qualname) for p in modes):
            return False
        return not self.has_weights(key, call)

    def _class_restores_train(self, key: str) -> bool:
        calls = self.analyzer.class_train_calls(self.class_id)  # type: ignore[arg-type]
        parts = key.split(".")
        return any(".".join(parts[:cut]) in calls for cut in range(len(parts), 0, -1))

    def _region_needs_grad(self) -> bool:
        if self.innermost_region() is None:
            return False
        return self.analyzer.needs_grad(self.fn)

    def training_step(self, call: ir.Call, state: State, kind: str) -> None:
        if kind == "backward" and not self.analyzer.trains(self.fn.id, steps_only=True) and (
            self.caller is None or not self.analyzer.file_steps(self.file)
        ):
            # A backward that no optimizer step follows, in code nothing calls or in a file that
            # steps no optimizer anywhere: gradients taken on purpose (saliency), no training step.
            return
        optimized = self.analyzer.roles.optimized(self.fn)
        for key, pending in list(state.pending.items()):
            if optimized is not None and not _among(key, optimized, state):
                continue  # not handed to the optimizer built here: not trained by this step
            self.record_training_forward(key, pending.file, pending.node, pending.function, None, call, kind, pending)

    def record_training_forward(self, key, file, node, function, modes, call, kind, pending: Pending | None = None):
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
            )
        )

    def lower_unresolved(self, call: ir.Call, state: State) -> None:
        """An unresolved call that receives a model may switch its mode: it is unknown from here on."""
        name = (call.func or "").split(".")[-1] or (call.method or "")
        if name in torch_api.MODE_NEUTRAL_CALLS:
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

    # -- project calls ---------------------------------------------------------------------------------------

    def here(self, call: ir.Call) -> CallerInfo:
        return CallerInfo(self.file, call.node, self.fn.info.qualname)

    def callee_entry(self, target: str, call: ir.Call, state: State, receiver: str | None) -> tuple[State, list]:
        callee = self.project.functions[target]
        mapping = self.bind_arguments(callee, call, state, receiver)
        entry = State(entry=self.analyzer.entry_origin(callee))
        entry.grad = state.grad
        for callee_key, caller_key in mapping:
            if caller_key.startswith(FUNCTION_VALUE):
                entry.types[callee_key] = caller_key
                continue
            if state.has_mode(caller_key) or self.is_model(caller_key, state):
                entry.modes[callee_key] = state.mode_of(caller_key)
            prefix = caller_key + "."
            for key, facts in state.modes.items():
                if key.startswith(prefix):
                    entry.modes[callee_key + key[len(caller_key) :]] = facts
            if self.is_frozen(caller_key, state):
                entry.frozen = entry.frozen | {callee_key}
            if caller_key in state.types:
                entry.types[callee_key] = state.types[caller_key]
            for key, type_id in state.types.items():
                if type_id in roles.MARKERS and key.startswith(prefix):
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
        values = dict(self.passed_values(callee, call, receiver))
        unknown = set()
        for param in callee.info.params:
            if param in mapped:
                continue
            facts = self.value_facts(values.get(param))
            if facts is not None:
                entry.modes[param] = facts
            else:
                unknown.add(param)
        entry.unknown_roots = frozenset(unknown)
        return entry, mapping

    def passed_values(self, callee: FunctionRef, call: ir.Call, receiver: str | None) -> list[tuple[str, ir.Value]]:
        params = list(callee.info.params)
        if callee.info.class_name is not None and params and (receiver is not None or call.method is not None):
            params = params[1:]
        return list(zip(params, call.args)) + [(name, value) for name, value in call.kwargs if name in params]

    def value_facts(self, value: ir.Value | None) -> Facts | None:
        """The mode of a module built in the argument list itself, if it is one."""
        if not isinstance(value, ir.CallValue):
            return None
        result = self.results.get(value.node)
        if result is None:
            return None
        if result[0] == "fresh":
            return result[1]
        if result[0] == "instance" and self.analyzer.is_model_type(result[1]) and self.analyzer.is_module_class(result[1]):
            return frozenset({Poss(TRAIN, self.origin(CONSTRUCTED, value.node))})
        return None

    def bind_arguments(self, callee: FunctionRef, call: ir.Call, state: State, receiver: str | None) -> list:
        params = callee.info.params
        mapping: list[tuple[str, str]] = []
        is_method, is_classmethod = self.analyzer.method_kind(callee)
        if is_method and params:
            self_name = params[0]
            if receiver is not None:
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
                mapping.append((param, FUNCTION_VALUE + target))
            else:
                mapping.append((param, state.canonical(arg.key)))
        # Closures and module globals: names the callee (or what it calls) reads but does not bind
        # are the caller's. Only those: the rest of the caller's state would only split the memo.
        if callee.file.path == self.file:
            bound = {callee_key for callee_key, _ in mapping}
            free = self.analyzer.free_names(callee.id)
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

    def call_function(self, target: str, call: ir.Call, state: State, receiver: str | None = None) -> None:
        entry, mapping = self.callee_entry(target, call, state, receiver)
        summary = self.analyzer.analyze(target, entry, self.callee_context(target, call, state), self.here(call))
        if summary is None:
            self.lower_unresolved(call, state)
            return
        if summary.returned is not None:
            marker = (roles.MODE_FREE,) if summary.returned_role == roles.MODE_FREE else ()
            self.results[call.node] = ("fresh", summary.returned, *marker)
        elif summary.returned_role == roles.NOT_MODEL:
            self.results[call.node] = ("not-model",)
        if summary.exit.dead:
            return
        self.map_back(summary.exit, mapping, state)
        state.grad = summary.exit.grad

    def map_back(self, callee_state: State, mapping: list, state: State) -> None:
        mapped_pending: dict[str, Pending] = {}
        mapping = [pair for pair in mapping if not pair[1].startswith(FUNCTION_VALUE)]
        for callee_key, caller_key in sorted(mapping, key=lambda pair: len(pair[0])):
            prefix = callee_key + "."
            for key in sorted(callee_state.modes, key=len):
                if key == callee_key or key.startswith(prefix):
                    state.set_mode(caller_key + key[len(callee_key) :], callee_state.modes[key])
            if callee_key in callee_state.frozen:
                state.frozen = state.frozen | {caller_key}
            for key, type_id in callee_state.types.items():
                if (key == callee_key or key.startswith(prefix)) and type_id in roles.MARKERS:
                    state.types[caller_key + key[len(callee_key) :]] = type_id
            for key, pending in callee_state.pending.items():
                if key == callee_key or key.startswith(prefix):
                    mapped_pending[caller_key + key[len(callee_key) :]] = pending
        # The callee saw every pending forward (under its own names where mapped); what it leaves
        # pending is what is pending now (a training step inside it consumed the rest).
        for key, pending in callee_state.pending.items():
            if not any(key == ck or key.startswith(ck + ".") for ck, _ in mapping):
                mapped_pending.setdefault(key, pending)
        state.pending = mapped_pending
        state.grad = callee_state.grad


# -- helpers ------------------------------------------------------------------------------------------------------


_PLAIN_BASES = frozenset(
    {"object", "abc.ABC", "ABC", "typing.Generic", "Generic", "typing.Protocol", "Protocol", "Exception",
     "enum.Enum", "Enum", "dict", "list", "typing.NamedTuple", "NamedTuple", "unittest.TestCase"}
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


@functools.lru_cache(maxsize=4096)
def _runs_the_network(method: str) -> bool:
    """Methods that run a module's network: `forward`, `forward_features`, `encode_image`, `infer`."""
    return method in ("__call__", "infer", "inference") or method.startswith(torch_api.NETWORK_METHOD_PREFIXES)


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


_RETURNED = ("", -2)
_RANGE_OF_NAME = re.compile(r"^range\(([A-Za-z_]\w*)\)$")
_TRAINING_WORDS = frozenset({"train", "training", "fit", "step", "optimize", "optimise", "finetune", "tune", "learn"})  # the region of a mode set in a loop of a function that has returned


def _function_words(info: ir.FunctionInfo) -> str:
    return "module-level code" if info.qualname == "<module>" else f"{info.name}()"


def _is_plain_base(name: str) -> bool:
    """Bases whose methods are not hooks a framework calls (modules' methods are their own business)."""
    return name in _PLAIN_BASES or name.endswith(".Module") or name == "Module" or name.startswith("typing.")


_ISINSTANCE_MODULE = re.compile(r"^isinstance\(\s*([A-Za-z_][\w.]*)\s*,\s*(?:torch\.)?(?:nn\.)?Module\s*\)$")


def _const(value) -> object:
    return value.value if isinstance(value, ir.ConstValue) else None


@functools.lru_cache(maxsize=1 << 16)
def _names_an_optimizer(receiver: str) -> bool:
    """Is ``receiver`` (the last part of a key) named like what ``.step()`` trains with?"""
    words = set(identifier_words(receiver))
    return bool(words & torch_api.STEP_RECEIVER_WORDS) and not words & torch_api.STEP_RECEIVER_EXCLUDE_WORDS


def _hands_over_an_optimizer(call: ir.Call) -> bool:
    """A call given an optimizer and something else computed (a loss), whose name says nothing of
    saving, loading, scheduling or setting up: it runs the training step."""
    values = [*call.args, *(value for _, value in call.kwargs)]
    if len(values) < 2 or not any(isinstance(v, ir.RefValue) and _names_an_optimizer(v.key.rpartition(".")[2]) for v in values):
        return False
    if not any(isinstance(v, (ir.CallValue, ir.MixValue)) or (isinstance(v, ir.RefValue) and "loss" in v.key) for v in values):
        return False
    name = (call.func or call.method or "").rpartition(".")[2]
    return not set(identifier_words(name)) & _NOT_A_STEP_WORDS


_NOT_A_STEP_WORDS = frozenset(
    {"save", "load", "sched", "scheduler", "lr", "prepare", "init", "initialize", "build", "create", "make",
     "log", "print", "checkpoint", "state", "wrap", "setup", "get", "restore", "resume"}
)


@functools.lru_cache(maxsize=1 << 16)
def _mentions_mode(method: str) -> bool:
    words = set(identifier_words(method))
    return bool(words & {"eval", "train", "mode", "training", "evaluation", "freeze", "unfreeze"})


def _canonical_prefix(state: State, target: str) -> str:
    """``self.model = ...`` binds the attribute chain itself; aliases of its owner still apply."""
    owner, _, attr = target.rpartition(".")
    return f"{state.canonical(owner)}.{attr}"


def _fingerprint(state: State) -> tuple:
    return (
        tuple(sorted(state.modes.items())),
        state.grad,
        state.frozen,
        tuple(sorted((k, p.node, p.modes, p.grad) for k, p in state.pending.items())),
        tuple(sorted(state.types.items())),
        state.entry,
        state.unknown_roots,
    )


def _values_of(stmt):
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
                yield from _values_of(item.call)
    elif isinstance(stmt, ir.BareAttribute) and stmt.receiver is not None:
        yield ir.RefValue(stmt.receiver)
    elif isinstance(stmt, ir.Reveal) and stmt.key is not None:
        yield ir.RefValue(stmt.key)
    elif isinstance(stmt, ir.If) and stmt.cond is not None:
        for dep in stmt.cond.deps:
            yield ir.RefValue(dep)


def _flatten(body) -> tuple[ir.Stmt, ...]:
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


def _calls_in(statements):
    """The calls among already flattened statements (``with`` items' calls included)."""
    for stmt in statements:
        if isinstance(stmt, ir.Call):
            yield stmt
        elif isinstance(stmt, ir.With):
            for item in stmt.items:
                if item.call is not None:
                    yield item.call

