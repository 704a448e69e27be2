"""What a module is built with, where it is built: the literal values its constructor is given.

``roles`` asks whether a class's mode-dependent layers can act at all. The dropout probability
or the RNN layer count often comes from the constructor (``Decoder(size, N_LAYERS)``,
``GPT(CONFIG)`` with ``CONFIG = {"drop_rate": 0.0, ...}``), so the answer may differ between
construction sites. A *site* maps ``__init__`` parameters to what this module can tell of them:

- a literal: an argument written as one, a literal default, or a variable (of the module or of
  the calling function) whose every assignment is that literal;
- a ``Config``: a variable whose every assignment is a dict display (the branches of an ``if``:
  what they agree on), that nothing changes item by item, aliases, or hands to a project
  function (``update()`` with dicts whose keys are known makes only those keys unknown).

A parameter left out of a site is unknown, and an unknown value keeps its layer mode-dependent.
What other files do to a module's dict is not read: a dict one file builds and another changes
before building a model from it would be taken as written.
"""

from __future__ import annotations

from dataclasses import dataclass

from evallint.analysis import ir
from evallint.analysis.callgraph import FunctionRef, ProjectIndex, function_id
from evallint.analysis.names import index_text

UNKNOWN = object()  # what an expression evaluates to when this module cannot tell
_SOME_LITERAL = object()  # a variable assigned different literals: no dict, at least

# Methods that change a dict in place.
_MUTATING_METHODS = frozenset({"update", "setdefault", "pop", "popitem", "clear", "__setitem__", "__delitem__", "__ior__"})


@dataclass(frozen=True)
class Config:
    """A dict whose keys are all known: each with its literal value, nested Config or UNKNOWN."""

    entries: tuple[tuple[object, object], ...]

    def get(self, text: str) -> object:
        """The value under a key written ``text`` in a subscript chain (``cfg["drop_rate"]``)."""
        found = [value for key, value in self.entries if index_text(key) == text]
        return found[0] if len(found) == 1 else UNKNOWN


Site = tuple[tuple[str, object], ...]  # sorted (parameter, literal or Config)


def _agreed(found: list) -> object:
    """The value all of ``found`` agree on: for Configs, every key any has, known where all
    have it with one value."""
    if any(item is UNKNOWN for item in found):
        return UNKNOWN
    if all(isinstance(item, Config) for item in found):
        keys = list(dict.fromkeys(key for item in found for key, _ in item.entries))
        return Config(tuple((key, _agreed([dict(item.entries).get(key, UNKNOWN) for item in found])) for key in keys))
    first = found[0]
    if any(isinstance(item, Config) or type(item) is not type(first) or item != first for item in found):
        return UNKNOWN
    return first


class SiteValues:
    def __init__(self, project: ProjectIndex, statements) -> None:
        self.project = project
        self.statements = statements  # FunctionRef -> flattened statements
        self._values: dict[str, dict[str, object]] = {}
        self._by_path: dict[str, list[FunctionRef]] | None = None

    # -- a construction site -----------------------------------------------------------------------

    def site_of(self, fref: FunctionRef, call: ir.Call, init_id: str | None, bound: dict | None = None) -> Site:
        """What the ``__init__`` ``init_id`` is given by ``call`` in ``fref`` (where ``bound`` says
        what ``fref``'s own parameters are, when it runs at a site of its own)."""
        if init_id is None or call.unpacked or init_id not in self.project.functions:
            return ()
        info = self.project.functions[init_id].info
        params = info.params[1:]
        given: dict[str, object] = {name: literal for name, literal in info.defaults}
        for param, value in zip(params[: max(info.positional - 1, 0)], call.args):
            given[param] = self.evaluate(fref, value, bound or {})
        for name, value in call.kwargs:
            if name in params:
                given[name] = self.evaluate(fref, value, bound or {})
        return tuple(sorted((name, value) for name, value in given.items() if value is not UNKNOWN))

    def bound(self, fref: FunctionRef, site: Site) -> dict[str, object]:
        """The site's parameters that keep their value through the body (not rebound, not
        changed item by item)."""
        if not site:
            return {}
        rebound = {target for stmt in self.statements(fref) if type(stmt) is ir.Assign for target in stmt.targets}
        return {name: value for name, value in site if name not in rebound and name not in fref.info.item_writes}

    def evaluate(self, fref: FunctionRef, value: ir.Value, bound: dict[str, object]) -> object:
        """The literal or Config ``value`` is in ``fref``, or UNKNOWN."""
        if isinstance(value, ir.ConstValue):
            return value.value
        if not isinstance(value, ir.RefValue) or "." in value.key.partition("[")[0]:
            return UNKNOWN
        root, _, rest = value.key.partition("[")
        if root in bound:
            found = bound[root]
        else:
            scope = self._scope_of(fref, root)
            found = self.value_in(scope, root) if scope is not None and root not in scope.info.params else UNKNOWN
        while rest and found is not UNKNOWN:
            text, close, rest = rest.partition("]")
            if not close or (rest and not rest.startswith("[")):
                return UNKNOWN
            rest = rest[1:]
            found = found.get(text) if isinstance(found, Config) else UNKNOWN
        return found

    def _scope_of(self, fref: FunctionRef, name: str) -> FunctionRef | None:
        """The function (or module) whose variable ``name`` is, read in ``fref``."""
        current: FunctionRef | None = fref
        while current is not None:
            info = current.info
            if info.qualname == "<module>" or name in info.local_names or name in info.params:
                return current
            parent = info.parent
            current = self.project.functions.get(function_id(fref.file.path, parent if parent else "<module>"))
        return None

    def _is_in(self, fref: FunctionRef, name: str, scope: FunctionRef) -> bool:
        found = self._scope_of(fref, name)
        return found is not None and found.id == scope.id

    # -- values of variables ---------------------------------------------------------------------------

    def value_in(self, scope: FunctionRef, name: str) -> object:
        """The literal or Config a variable of ``scope`` (a function, or a module) always holds."""
        found = self._held(scope, name)
        return UNKNOWN if found is _SOME_LITERAL else found

    def _held(self, scope: FunctionRef, name: str) -> object:
        values = self._values.get(scope.id)
        if values is None:
            self._values[scope.id] = {}  # read while being read (a cycle): nothing known
            values = self._values[scope.id] = self._read_scope(scope)
        return values.get(name, UNKNOWN)

    def _sharing(self, scope: FunctionRef) -> list[FunctionRef]:
        """``scope`` and the functions nested in it (all of its file's, for a module)."""
        by_path = self._by_path
        if by_path is None:
            by_path = self._by_path = {}
            for fref in self.project.functions.values():
                by_path.setdefault(fref.file.path, []).append(fref)
        functions = by_path.get(scope.file.path, [])
        if scope.info.qualname == "<module>":
            return functions
        prefix = scope.info.qualname + ".<locals>."
        return [scope, *(fref for fref in functions if fref.info.qualname.startswith(prefix))]

    def _read_scope(self, scope: FunctionRef) -> dict[str, object]:
        """The variables of ``scope`` assigned once, to a literal or a dict display."""
        functions = [(fref, fref is scope) for fref in self._sharing(scope)]
        assigned: dict[str, list] = {}
        for fref, own in functions:
            for stmt in self.statements(fref):
                kind = type(stmt)
                if kind is ir.Loop or kind is ir.With:
                    # `for drop in (0.0, 0.5):` rebinds the name too.
                    targets = stmt.targets if kind is ir.Loop else [item.target for item in stmt.items]
                    for target in targets:
                        if target is not None and (own or self._is_in(fref, target, scope)):
                            assigned.setdefault(target, []).append(None)
                    continue
                if kind is not ir.Assign:
                    continue
                for index, target in enumerate(stmt.targets):
                    if target is not None and (own or self._is_in(fref, target, scope)):
                        assigned.setdefault(target, []).append(_assigned(stmt, index) if own else None)
        # Assigned several times (in the branches of an `if`): what all assignments agree on.
        known = {name: pairs for name, pairs in assigned.items() if None not in pairs}
        values: dict[str, object] = {}
        for name, pairs in known.items():
            if all(isinstance(value, ir.ConstValue) for value, _ in pairs):
                literals = {(type(value.value), value.value) for value, _ in pairs}
                values[name] = pairs[0][0].value if len(literals) == 1 else _SOME_LITERAL
        displays = {name: [display for _, display in pairs] for name, pairs in known.items() if all(display for _, display in pairs)}
        for name, shown in displays.items():
            found = _agreed([self._config(display, values, displays) for display in shown])
            if found is not UNKNOWN:
                values[name] = found
        for name in [name for name in displays if name in values]:
            changed = self._changed_keys(name, scope, functions, values)
            if changed is UNKNOWN:
                del values[name]
            elif changed:
                values[name] = Config(tuple((k, UNKNOWN if k in changed else v) for k, v in values[name].entries))
        return values

    def _config(self, display: ir.DictDisplay, values: dict, displays: dict) -> object:
        """The Config of a display, or UNKNOWN when some of its keys are (``{**base, "p": 0}``)."""
        if not display.complete:
            return UNKNOWN
        entries = []
        for key, item in display.entries:
            if isinstance(item, ir.DictDisplay):
                entries.append((key, self._config(item, values, displays)))
            elif isinstance(item, ir.ConstValue):
                entries.append((key, item.value))
            elif isinstance(item, ir.RefValue) and values.get(item.key, _SOME_LITERAL) is not _SOME_LITERAL and item.key not in displays:
                entries.append((key, values[item.key]))  # a module constant (a shared dict could change)
            else:
                entries.append((key, UNKNOWN))
        return Config(tuple(entries))

    def _changed_keys(self, name: str, scope: FunctionRef, functions: list, values: dict) -> set | object:
        """The keys of the dict ``name`` of ``scope`` that code may change, or UNKNOWN when it may
        change any (item writes, aliases, unknown updates, handed to a project function)."""
        changed: set = set()
        for fref, own in functions:
            if not (own or self._is_in(fref, name, scope)):
                continue
            if name in fref.info.item_writes:
                return UNKNOWN
            for stmt in self.statements(fref):
                kind = type(stmt)
                if kind is ir.Assign:
                    if isinstance(stmt.value, ir.RefValue) and stmt.value.key == name:
                        return UNKNOWN  # `cfg = CONFIG`: changes through `cfg` are not followed
                    continue
                if kind is not ir.Call:
                    continue
                if isinstance(stmt.receiver, ir.RefValue) and stmt.receiver.key == name and stmt.method in _MUTATING_METHODS:
                    keys = self._update_keys(stmt, fref, scope, values) if stmt.method == "update" else UNKNOWN
                    if keys is UNKNOWN:
                        return UNKNOWN
                    changed |= keys
                    continue
                if stmt.func is not None and any(isinstance(v, ir.RefValue) and v.key == name for v in stmt.arguments):
                    target = self.project.resolve(fref, stmt.func)
                    if target is not None and target in self.project.functions:
                        return UNKNOWN
        return changed

    def _update_keys(self, call: ir.Call, fref: FunctionRef, scope: FunctionRef, values: dict) -> set | object:
        """The keys ``d.update(...)`` may write: keywords, and the keys of the module dicts its
        argument is read from (``d.update(PRESETS[choice])``: any preset's keys)."""
        if call.unpacked or len(call.args) > 1:
            return UNKNOWN
        keys = {name for name, _ in call.kwargs}
        if not call.args:
            return keys
        argument = call.args[0]
        parts = argument.parts if isinstance(argument, ir.MixValue) else (argument,)
        for part in parts:
            if not isinstance(part, ir.RefValue):
                return UNKNOWN
            home = self._scope_of(fref, part.key)
            if home is None or part.key in home.info.params:
                return UNKNOWN
            found = values.get(part.key, UNKNOWN) if home.id == scope.id else self._held(home, part.key)
            if isinstance(found, Config):
                for key, value in found.entries:
                    keys.add(key)
                    if argument is part:
                        continue
                    # `PRESETS[choice]` (the parts of a computed value): any value may be the one.
                    if isinstance(value, Config):
                        keys |= {inner for inner, _ in value.entries}
                    elif value is UNKNOWN:
                        return UNKNOWN
            elif found is not _SOME_LITERAL and not isinstance(found, (str, int)):
                return UNKNOWN  # (an index that is a literal, or may be any of some, reads a value)
        return keys


def _assigned(stmt: ir.Assign, index: int) -> tuple[ir.Value, ir.DictDisplay | None] | None:
    """What an assignment gives its ``index``-th target, as (value, dict display): `drop = 0.1`,
    and each name of `hidden, drop = 32, 0.1`; None where that is not known (`a, b = pair`,
    a starred target)."""
    if len(stmt.targets) == 1:
        return stmt.value, stmt.display
    items = stmt.value.items if isinstance(stmt.value, ir.TupleValue) else ()
    if len(items) != len(stmt.targets) or None in stmt.targets:
        return None
    return items[index], None
