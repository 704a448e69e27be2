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

from evallint.analysis import ir, torch_api
from evallint.analysis.callgraph import FunctionRef, ProjectIndex
from evallint.analysis.regions import is_eval_function_name, is_eval_loader, is_test_file


def relevant_functions(analyzer) -> set[str]:
    """Ids of the functions from which a walk may reach a source of findings."""
    project: ProjectIndex = analyzer.project
    callers: dict[str, set[str]] = defaultdict(set)
    relevant: set[str] = set()
    for fid, fref in project.functions.items():
        if _is_source_by_name(analyzer, fref) or _has_local_source(analyzer, fref):
            relevant.add(fid)
        for callee in _possible_callees(analyzer, fref):
            callers[callee].add(fid)

    todo = list(relevant)
    while todo:
        for caller in callers.get(todo.pop(), ()):
            if caller not in relevant:
                relevant.add(caller)
                todo.append(caller)
    return relevant


def _is_source_by_name(analyzer, fref: FunctionRef) -> bool:
    info = fref.info
    if info.qualname == "<module>":
        return False
    if is_eval_function_name(info.name, is_test_file(fref.file.path)) or analyzer._matches_extra_eval(info.name):
        return True
    class_id = analyzer.project.class_of_method(fref)
    if class_id is None:
        return False
    for base in analyzer.project.qualified_bases(class_id):
        if base in torch_api.LIGHTNING_BASES or base.endswith("LightningModule"):
            return True
        if base in torch_api.HF_TRAINER_BASES or base.endswith(".Trainer"):
            return True
    return False


def _has_local_source(analyzer, fref: FunctionRef) -> bool:
    module_level = fref.info.qualname == "<module>"
    for stmt in analyzer.statements(fref):
        if isinstance(stmt, ir.Call):
            if analyzer.is_training_call(fref, stmt) is not None:
                return True
        elif isinstance(stmt, ir.Loop):
            if not stmt.is_while and is_eval_loader(stmt.iter_words):
                return True
        elif isinstance(stmt, ir.Reveal):
            return True
        elif isinstance(stmt, ir.With) and module_level:
            for item in stmt.items:
                if item.call is None or item.call.func is None:
                    continue
                name = analyzer.project.qualify(fref.file.path, item.call.func)
                if name in torch_api.GRAD_OFF_CONTEXTS or name in torch_api.SET_GRAD_ENABLED:
                    return True
    return False


def _possible_callees(analyzer, fref: FunctionRef):
    project: ProjectIndex = analyzer.project
    class_id = project.class_of_method(fref)
    if class_id is not None:
        init = project.method_of(class_id, "__init__")
        if init is not None:
            yield init
    for call in analyzer.calls(fref):
        if call.func is not None:
            yield from _targets(project, fref, call.func)
            root, _, name = call.func.partition(".")
            if root == "self" and class_id is not None and name and "." not in name:
                yield from project.overrides(class_id, name)
        for value in _flat_values((*call.args, *(value for _, value in call.kwargs))):
            if isinstance(value, ir.RefValue):
                yield from _targets(project, fref, value.key)
    for stmt in analyzer.statements(fref):
        if isinstance(stmt, (ir.Assign, ir.Return)):
            for value in _flat_values((stmt.value,)):
                if isinstance(value, ir.RefValue):
                    yield from _targets(project, fref, value.key)


def _flat_values(values):
    for value in values:
        if isinstance(value, ir.TupleValue):
            yield from _flat_values(value.items)
        else:
            yield value


def _targets(project: ProjectIndex, fref: FunctionRef, chain: str):
    """What a call or a reference of ``chain`` may run: the function itself, or for a class, its
    ``__init__`` and every method its instances may be asked for (the walk follows instances'
    types into ``obj.method()``)."""
    target = project.resolve(fref, chain)
    if target in project.functions:
        yield target
    elif target in project.classes:
        for class_id in _class_and_bases(project, target):
            yield from project.methods.get(class_id, {}).values()


def _class_and_bases(project: ProjectIndex, class_id: str) -> list[str]:
    seen = [class_id]
    for current in seen:
        for base in project.base_ids(current):
            if base not in seen:
                seen.append(base)
    return seen
