"""Virtual dispatch on `self`: which project classes a base-class method must be walked for.

`Epoch.run` calling `self.on_epoch_start()` then `self.batch_update()` runs either the training
subclass's pair or the validation subclass's, never one of each. A walk that joined the overrides
at each call would let a validation epoch's eval() reach a training epoch's step; walking the
method once per class, with `self` of that class, keeps each path in one class.
"""

from __future__ import annotations

from collections.abc import Callable

from evallint.analysis import ir
from evallint.analysis.callgraph import FunctionRef, ProjectIndex

# Beyond this many classes a method is walked once with its overrides joined at each call: each
# variant is a walk of its own, and a function gets a few walks at most (driver's limits).
MAX_SELF_VARIANTS = 6


def find_self_variants(
    project: ProjectIndex,
    fref: FunctionRef,
    calls: Callable[[FunctionRef], tuple[ir.Call, ...]],
    method_kind: Callable[[FunctionRef], tuple[bool, bool]],
) -> tuple[str, ...]:
    """The classes to walk ``fref`` for, one walk each: the method's class and its project
    subclasses, one per distinct set of methods its ``self.hook()`` calls (its own and those of
    the ``self`` methods it calls) reach. Empty where every class takes the same methods, or
    where there would be more than ``MAX_SELF_VARIANTS`` walks."""
    class_id = project.class_of_method(fref)
    if class_id is None or fref.info.params[:1] != ("self",) or method_kind(fref) != (True, False):
        return ()
    subclasses = project.subclasses(class_id)
    if not subclasses:
        return ()
    candidates = [class_id, *subclasses]
    varying: set[str] = set()
    seen = {fref.id}
    todo = [fref]
    while todo:
        current = todo.pop()
        for call in calls(current):
            if call.func is None or not call.func.startswith("self.") or call.func.count(".") != 1:
                continue
            name = call.func[len("self.") :]
            targets = {project.method_of(cid, name) for cid in candidates}
            if len(targets) > 1:
                varying.add(name)
            for target in sorted(t for t in targets if t is not None and t not in seen):
                seen.add(target)
                todo.append(project.functions[target])
    if not varying:
        return ()
    names = sorted(varying)
    variants: dict[tuple, str] = {}
    for cid in candidates:
        table = tuple(project.method_of(cid, name) for name in names)
        # A class without one of the methods cannot run this path (an abstract base whose
        # hook only subclasses define): it is no variant of its own.
        if None not in table:
            variants.setdefault(table, cid)
    if not 2 <= len(variants) <= MAX_SELF_VARIANTS:
        return ()
    return tuple(variants.values())
