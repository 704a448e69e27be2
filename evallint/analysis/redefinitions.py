"""A top-level class or function defined more than once in one file, as notebooks do (a later
cell redefines `Net` with Dropout): each definition stays its own, and module-level code reaches
the one defined above it, as Python runs it.

Every definition but the last gets the qualname ``Name@<ordinal of its definition>``; the last
keeps the plain name, which code in functions reaches (they usually run once all cells did).
Module-level references to the name between two definitions are rewritten to the earlier one.
``@`` cannot appear in a Python name, and labels shown to users drop it
(``rules.base.function_label``).
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass, replace

from evallint.analysis import ir

_CHAIN_FIELDS = frozenset({"func", "key", "chain"})


def separate(functions: list[ir.FunctionInfo], classes: list[ir.ClassInfo]) -> tuple[list, list]:
    """``functions`` and ``classes`` of one file, redefinitions told apart."""
    definitions: dict[str, list[int]] = {}
    for cls in classes:
        if "." not in cls.qualname:
            definitions.setdefault(cls.name, []).append(cls.node)
    for fn in functions:
        if fn.parent is None and fn.class_name is None and "." not in fn.qualname and fn.qualname != "<module>":
            definitions.setdefault(fn.name, []).append(fn.node)
    redefined = {name: sorted(nodes) for name, nodes in definitions.items() if len(nodes) > 1}
    if not redefined:
        return functions, classes
    # (name, first node, end node, new qualname) of each definition that is not the last.
    earlier = [
        (name, start, nodes[index + 1], f"{name}@{start}")
        for name, nodes in redefined.items()
        for index, start in enumerate(nodes[:-1])
    ]

    def renamed(qualname: str | None, node: int) -> str | None:
        if qualname is None:
            return None
        for name, start, end, new in earlier:
            if start <= node < end and (qualname == name or qualname.startswith(name + ".")):
                return new + qualname[len(name):]
        return qualname

    def at(node: int) -> dict[str, str]:
        """What each redefined name means to module-level code at ``node``."""
        meaning = {}
        for name, nodes in redefined.items():
            before = [start for start in nodes if start < node]
            if before and before[-1] != nodes[-1]:
                meaning[name] = f"{name}@{before[-1]}"
        return meaning

    new_functions = []
    for fn in functions:
        if fn.qualname == "<module>":
            fn = replace(fn, body=_rewrite(fn.body, at, fn.node))
        else:
            qualname = renamed(fn.qualname, fn.node)
            if qualname != fn.qualname:
                fn = replace(fn, qualname=qualname, class_name=renamed(fn.class_name, fn.node),
                             parent=renamed(fn.parent, fn.node))
        new_functions.append(fn)
    new_classes = []
    for cls in classes:
        qualname = renamed(cls.qualname, cls.node)
        bases = _rewrite(cls.bases, at, cls.node, chain=True) if "." not in cls.qualname else cls.bases
        if qualname != cls.qualname or bases != cls.bases:
            cls = replace(cls, qualname=qualname, bases=bases)
        new_classes.append(cls)
    return new_functions, new_classes


def _rewrite(item, at, node: int, chain: bool = False):
    """``item`` (a record, or a tuple of them) with each chain and key rooted at a redefined name
    replaced by what that name means at the item's position. Only strings in chain fields
    (``chain``) are references; other strings (assignment targets, loop words) stay."""
    if isinstance(item, tuple):
        new = tuple(_rewrite(part, at, node, chain) for part in item)
        return item if all(a is b for a, b in zip(new, item)) else new
    if isinstance(item, str):
        if not chain:
            return item
        root, dot, rest = item.partition(".")
        meaning = at(node).get(root)
        return item if meaning is None else meaning + dot + rest
    if not is_dataclass(item):
        return item
    position = getattr(item, "node", node)
    position = position if isinstance(position, int) else node
    changes = {}
    for field in fields(item):
        old = getattr(item, field.name)
        new = _rewrite(old, at, position, field.name in _CHAIN_FIELDS)
        if new is not old:
            changes[field.name] = new
    return replace(item, **changes) if changes else item
