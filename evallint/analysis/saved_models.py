"""Whole models a script saves and loads back: ``torch.save(net, "net.pkl")`` in one function and
``torch.load("net.pkl")`` in another load the class that was saved, so a notebook that saves a
net of Linear layers and reloads it has no mode to forget.

Only what the file's own code says counts: a literal file name, and a model built in the saving
function by torch constructors. A file name saved to from two places is known only if both saved
the same kind of model.
"""

from __future__ import annotations

from evallint.analysis import ir, roles


def saved_models_of(project, path: str, statements, calls) -> dict[str, str]:
    """Literal file name -> role of the model ``path``'s code saves there with ``torch.save``."""
    saved: dict[str, set[str]] = {}
    for fref in project.functions.values():
        if fref.file.path != path:
            continue
        by_node = {call.node: call for call in calls(fref)}
        built = {
            stmt.targets[0]: stmt.value.node
            for stmt in statements(fref)
            if isinstance(stmt, ir.Assign) and len(stmt.targets) == 1 and isinstance(stmt.value, ir.CallValue)
        }
        for call in by_node.values():
            if call.func is None or project.qualify(path, call.func) != "torch.save" or len(call.args) < 2:
                continue
            model, target = call.args[0], call.args[1]
            if not isinstance(target, ir.ConstValue) or not isinstance(target.value, str):
                continue
            role = roles.UNSEEN
            if isinstance(model, ir.RefValue) and model.key in built:
                role = _built_role(project, path, by_node, built[model.key])
            saved.setdefault(target.value, set()).add(role)
    return {target: next(iter(found)) for target, found in saved.items() if len(found) == 1}


def _built_role(project, path: str, calls: dict[int, ir.Call], node: int) -> str:
    """What a torch constructor call (``nn.Sequential(nn.Linear(1, 10), ...)``) builds."""
    call = calls.get(node)
    qualified = project.qualify(path, call.func) if call is not None and call.func else None
    if qualified is None or not roles.constructs_module(qualified):
        return roles.UNSEEN
    role = roles.constructor_role(qualified, call)
    if role != roles.CONTAINER:
        return role
    return roles.container_role(
        _built_role(project, path, calls, value.node) if isinstance(value, ir.CallValue) else roles.UNSEEN
        for value in call.arguments
    )
