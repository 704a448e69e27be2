"""Which root functions can lead to a finding at all, decided before any walk.

A walk records a fact a rule reads only inside an evaluation context (a
function with an evaluation name, a loop over evaluation data, a script's
module-level ``no_grad`` block, a framework's evaluation hook) or when a
training step runs (a backward, an optimizer step, a framework's training
hook). A root whose every possible callee has none of these is walked only
to be thrown away: in a library such as a model zoo that is nearly every
function (layers' ``forward``, builders, utilities).

The callees are over-approximated so that no finding is lost: besides the
calls the project resolves, a function may run every method of a project class
it constructs or references (the walk follows an instance's class into
``obj.method()``), every override of a method it calls on ``self``, every
function it passes or stores as a value (callbacks), and a method its class's
``__init__`` (which gives methods their entry state).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from evallint.analysis import ir, roles, torch_api
from evallint.analysis.callgraph import FunctionRef, ProjectIndex
from evallint.analysis.regions import is_eval_function_name, is_eval_loader, is_test_module, is_test_suite_module


@dataclass
class CallScan:
    """One pass over every call and reference of the project (or of a part, see ``merge``)."""

    called: set[str] = field(default_factory=set)  # called directly somewhere: not a root
    referenced: set[str] = field(default_factory=set)  # used as a value: has callers nobody sees
    # Over-approximated; a caller may also be a class's ``instances_node``.
    callers: dict[str, set] = field(default_factory=lambda: defaultdict(set))
    sources: set[str] = field(default_factory=set)  # functions that hold a source of findings themselves

    def merge(self, other: "CallScan") -> "CallScan":
        """The scan of both parts: every field is a union, so parts merge in any order."""
        callers: dict[str, set[str]] = defaultdict(set)
        for part in (self, other):
            for callee, found in part.callers.items():
                callers[callee] |= found
        return CallScan(
            self.called | other.called, self.referenced | other.referenced, callers, self.sources | other.sources
        )


def scan_calls(evidence, fids: Iterable[str] | None = None) -> CallScan:
    """Scan the functions ``fids`` (all of the project's by default). What a function contributes
    depends on the function alone (and the project's names), so the scans of the parts of a
    project merge into the scan of the whole: phase 2 scans its two halves in two processes."""
    project: ProjectIndex = evidence.project
    scan = CallScan()
    linked: set[str] = set()  # classes whose instances node this scan has linked to their methods

    def instances_of(class_id: str) -> tuple[str, str]:
        node = instances_node(class_id)
        if class_id not in linked:
            linked.add(class_id)
            for method in _instance_methods(project, class_id):
                scan.callers[method].add(node)  # type: ignore[arg-type]
        return node

    for fid in fids if fids is not None else project.functions:
        fref = project.functions[fid]
        if is_test_suite_module(fref.file):
            # The test suite is outside the analysis: its findings would not be reported, so it
            # is no root, and what it alone calls is a root, as code whose callers are not seen.
            continue
        callees: set = set()
        class_id = project.class_of_method(fref)
        if class_id is not None:
            init = project.method_of(class_id, "__init__")
            if init is not None:
                callees.add(init)
        module_level = fref.info.qualname == "<module>"
        local_source = False
        statements = evidence.statements(fref)
        # One pass over the body: calls (those of `with` items too), references, local sources.
        for stmt in statements:
            kind = type(stmt)
            if kind is ir.Call:
                if not local_source and (evidence.is_training_call(fref, stmt) is not None or _loads_weights(evidence, fref, stmt)):
                    local_source = True
                _scan_call(evidence, fref, stmt, scan, callees, instances_of)
            elif kind is ir.With:
                if module_level and not local_source and _disables_grad(evidence, fref, stmt):
                    local_source = True
                for item in stmt.items:
                    if item.call is not None:
                        _scan_call(evidence, fref, item.call, scan, callees, instances_of)
            elif kind is ir.Assign or kind is ir.Return:
                if type(stmt.value) in _REFERENCING:
                    _reference(project, fref, stmt.value, scan, callees, True, instances_of)
            elif kind is ir.Loop:
                if not stmt.is_while and is_eval_loader(stmt.iter_words):
                    local_source = True
            elif kind is ir.Reveal:
                local_source = True
        if local_source or _is_source_by_name(evidence, fref):
            scan.sources.add(fid)
        for callee in callees:
            scan.callers[callee].add(fid)
    return scan


def _scan_call(evidence, fref: FunctionRef, call: ir.Call, scan: CallScan, callees: set, instances_of) -> None:
    """What one call contributes: the functions it may run, and the functions it passes as values."""
    project: ProjectIndex = evidence.project
    for value in call.args:
        if type(value) in _REFERENCING:
            _reference(project, fref, value, scan, callees, True, instances_of)
    for _, value in call.kwargs:
        if type(value) in _REFERENCING:
            _reference(project, fref, value, scan, callees, True, instances_of)
    if call.func is None:
        return
    target = project.resolve(fref, call.func)
    if target in project.functions:
        callees.add(target)
        if target != fref.id:
            scan.called.add(target)
            overrides = evidence.dispatch_overrides(fref, call, None)
            scan.called.update(overrides)
            callees.update(overrides)
    elif target in project.classes:
        init = project.method_of(target, "__init__")
        if init:
            scan.called.add(init)
        callees.add(instances_of(target))


# The values that can refer to a function or class.
_REFERENCING = frozenset({ir.RefValue, ir.TupleValue})


def instances_node(class_id: str) -> tuple[str, str]:
    """The node of the call graph that stands for "any method of an instance of this class".
    A function that constructs or references the class calls this node, which calls each
    method: one edge per reference instead of one per method, far fewer edges. It is a tuple, so
    it is never taken for a function's id."""
    return ("instances", class_id)


def _reference(project: ProjectIndex, fref: FunctionRef, value: ir.Value, scan: CallScan, callees: set,
               direct: bool, instances_of) -> None:
    if isinstance(value, ir.TupleValue):
        for item in value.items:
            _reference(project, fref, item, scan, callees, False, instances_of)
        return
    if not isinstance(value, ir.RefValue):
        return
    target = project.resolve(fref, value.key)
    if target in project.functions:
        callees.add(target)
        if direct:
            scan.referenced.add(target)
    elif target in project.classes:
        callees.add(instances_of(target))


def relevant_functions(scan: CallScan) -> set[str]:
    """Ids of the functions from which a walk may reach a source of findings."""
    return reaching(scan, scan.sources)


def reaching(scan: CallScan, targets: set[str]) -> set[str]:
    """The functions from which a walk may reach one of ``targets``, the targets included."""
    found = set(targets)
    todo = list(found)
    while todo:
        for caller in scan.callers.get(todo.pop(), ()):
            if caller not in found:
                found.add(caller)
                todo.append(caller)
    return {node for node in found if type(node) is str}  # without the classes' instances nodes


def _is_source_by_name(evidence, fref: FunctionRef) -> bool:
    info = fref.info
    if info.qualname == "<module>":
        return False
    if is_eval_function_name(info.name, is_test_module(fref.file)) or evidence.matches_extra_eval(info.name):
        return True
    class_id = evidence.project.class_of_method(fref)
    if class_id is None:
        return False
    for base in evidence.project.qualified_bases(class_id):
        if base in torch_api.LIGHTNING_BASES or base.endswith("LightningModule"):
            return True
        if base in torch_api.HF_TRAINER_BASES or base.endswith(".Trainer"):
            return True
    return False


def _loads_weights(evidence, fref: FunctionRef, call: ir.Call) -> bool:
    """Weights loaded here, or a model put in eval mode, make a forward of it an evaluation
    (see ``roles``)."""
    if call.method in torch_api.LOAD_WEIGHTS_METHODS or call.method == "eval" or call.method in torch_api.PRETRAINED_METHODS:
        return True
    if call.func is not None and evidence.project.qualify(fref.file.path, call.func) in torch_api.WHOLE_MODEL_LOADERS:
        return True
    return bool(call.kwargs) and roles.loads_pretrained_weights(evidence.project.qualified_callee(fref.file.path, call), call)


def _disables_grad(evidence, fref: FunctionRef, stmt: ir.With) -> bool:
    """A module-level ``with torch.no_grad():`` (or ``set_grad_enabled``): a script's evaluation."""
    for item in stmt.items:
        if item.call is None or item.call.func is None:
            continue
        name = evidence.project.qualify(fref.file.path, item.call.func)
        if name in torch_api.GRAD_OFF_CONTEXTS or name in torch_api.SET_GRAD_ENABLED:
            return True
    return False


def _instance_methods(project: ProjectIndex, class_id: str):
    """What constructing or referencing a class may run: the walk follows an instance's class into
    ``obj.method()``, so every method of the class and of its project bases."""
    for owner in _class_and_bases(project, class_id):
        yield from project.methods.get(owner, {}).values()


def _class_and_bases(project: ProjectIndex, class_id: str) -> list[str]:
    seen = [class_id]
    for current in seen:
        for base in project.base_ids(current):
            if base not in seen:
                seen.append(base)
    return seen
