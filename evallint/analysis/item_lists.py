"""Lists of modules whose items evallint knows: what iterating or slicing them gives.

``models = []`` then ``models.append(nn.Sequential(nn.Linear(1, 8), nn.ReLU(), nn.Linear(8, 1)))``
in a loop, and later ``for model in models[:5]: model(x)``: each item is mode-free, so that
forward has no mode to forget. A list keeps such a type (``lattice.ELEMENTS_OF`` and the role its
items share, "mode-free" or "not-model") while the walk sees everything that reaches it:

- it is made by a list or tuple display of such items, ``list()``, or a slice of such a list;
- ``append``/``insert`` add items whose role the walk knows (a model, or anything unknown,
  ends the type); methods that only reorder, read or remove items keep it;
- passed to a project function, it keeps the type that function leaves its parameter with, if it
  stored it nowhere; passed to anything else but a few builtins that only read (``len``,
  ``enumerate``), stored in an attribute or another container, or aliased through an
  expression (``xs or []``), its type ends;
- ``Evidence.tracks_items`` says where nothing outside the walk can reach it at all.

A mixin of ``Interpreter``.
"""

from __future__ import annotations

from evallint.analysis import ir, roles
from evallint.analysis.lattice import ELEMENTS_OF, State
from evallint.analysis.records import NEW_LIST, Fresh, Instance, NewList, NotModel, known

# Builtins that read a list and keep no reference to it past the call.
_READING_CALLS = frozenset(
    {"len", "print", "enumerate", "zip", "sorted", "reversed", "list", "tuple", "iter", "str", "repr", "isinstance",
     "id", "bool", "any", "all", "min", "max", "sum"}
)
# Methods of a list that add no item.
_KEEPING_METHODS = frozenset({"index", "count", "copy", "pop", "remove", "clear", "sort", "reverse", "__len__", "__getitem__"})
_ADDING_METHODS = frozenset({"append", "insert"})
_ITEM_ROLES = (roles.MODE_FREE, roles.NOT_MODEL)


class ItemLists:
    """Transfer functions for lists whose items' role is known.

    Until a walk holds such a list (``lists_live``: one came in with the entry state, or the
    walk made one), only what makes one is looked at: most functions never hold one.
    """

    lists_live = False

    def items_role(self, key: str, state: State) -> str | None:
        """The role every item of the list ``key`` has, if known here."""
        type_id = state.types.get(key)
        if type_id is None or not type_id.startswith(ELEMENTS_OF) or not self.evidence.tracks_items(self.fn, key):
            return None
        return type_id[len(ELEMENTS_OF) :]

    def _set_items(self, key: str, role: str | None, state: State) -> None:
        if role in _ITEM_ROLES and self.evidence.tracks_items(self.fn, key):
            state.types[key] = ELEMENTS_OF + role
            self.lists_live = True
        elif (state.types.get(key) or "").startswith(ELEMENTS_OF):
            del state.types[key]

    def _listed_keys(self, values, state: State):
        """The keys of the item lists among these values (nested in tuples and expressions too)."""
        for value in values:
            if isinstance(value, ir.RefValue):
                key = state.canonical(value.key)
                if (state.types.get(key) or "").startswith(ELEMENTS_OF):
                    yield key
            elif isinstance(value, (ir.TupleValue, ir.MixValue)):
                yield from self._listed_keys(value.items if isinstance(value, ir.TupleValue) else value.parts, state)

    def item_list_call(self, site, state: State) -> State | None:
        """A list method, a list handed to a call, or ``list()``: see the module's docstring."""
        call = site.call
        if call.func == "list" and not call.args and not call.kwargs and not call.unpacked:
            self.results[call.node] = NEW_LIST
            return state
        if not self.lists_live:
            return None
        receiver = site.receiver_key
        if receiver is not None and (state.types.get(receiver) or "").startswith(ELEMENTS_OF):
            if call.method in _KEEPING_METHODS:
                return state
            if call.method in _ADDING_METHODS and call.args and not call.unpacked and not call.kwargs:
                role = self.items_role(receiver, state)
                added = self.item_role(call.args[-1], state)
                self._set_items(receiver, roles.strongest({role, added}) if role and added else None, state)
                return state
            self._set_items(receiver, None, state)
            return None
        passed = list(self._listed_keys(call.arguments, state))
        # A project function is followed (``lists_after_call``); a project class may keep the list.
        if passed and site.target not in self.project.functions:
            if call.func not in _READING_CALLS or site.target is not None:
                for key in passed:
                    self._set_items(key, None, state)
        return None

    def item_role(self, value: ir.Value, state: State) -> str | None:
        """The role of a value added to a list, when known: a reference's type, a module built there."""
        if isinstance(value, ir.RefValue):
            type_id = state.types.get(state.canonical(value.key))
            return self.evidence.type_role(type_id) if type_id is not None and not type_id.startswith(ELEMENTS_OF) else None
        if isinstance(value, ir.CallValue):
            result = known(self.results.get(value.node))
            if isinstance(result, NotModel):
                return roles.NOT_MODEL
            if isinstance(result, Fresh) and result.role is not None:
                return result.role
            if isinstance(result, Instance) and self.evidence.is_module_class(result.class_id):
                return self.evidence.roles.class_role(result.class_id)
        return None

    def lists_before_assign(self, assign: ir.Assign, state: State) -> None:
        """A list stored anywhere but under a plain local name (`self.models = models`, `pair =
        (models, 1)`, `ms = models or []`) may be changed where the walk does not look."""
        value = assign.value
        if not self.lists_live or (
            isinstance(value, ir.RefValue) and len(assign.targets) == 1 and (assign.targets[0] or "").isidentifier()
        ):
            return
        if assign.slice_of is not None and isinstance(value, ir.MixValue):
            return  # `part = models[:5]`: a new list of some of the items
        for key in set(self._listed_keys([value], state)):
            self._set_items(key, None, state)

    def lists_after_assign(self, assign: ir.Assign, state: State) -> None:
        if len(assign.targets) != 1 or not (assign.targets[0] or "").isidentifier():
            return
        target, value = assign.targets[0], assign.value
        role = None
        if assign.slice_of is not None:
            role = self.items_role(state.canonical(assign.slice_of), state) if self.lists_live else None
        elif isinstance(value, ir.TupleValue):
            found = [self.item_role(item, state) for item in value.items]
            role = roles.strongest(found) if None not in found else None
            role = role if found else roles.NOT_MODEL
        elif isinstance(value, ir.CallValue) and isinstance(self.results.get(value.node), NewList):
            role = roles.NOT_MODEL
        if role is not None:
            self._set_items(target, role, state)

    def typed_loop_targets(self, loop: ir.Loop, state: State) -> None:
        """``for model in models``: each item has the role the list's items share."""
        source = loop.source
        if not self.lists_live or len(loop.targets) != 1 or not (isinstance(source, ir.MixValue) and len(source.parts) == 1):
            return
        listed = source.parts[0]
        if not isinstance(listed, ir.RefValue):
            return
        role = self.items_role(state.canonical(listed.key), state)
        if role is not None:
            state.types[loop.targets[0]] = role

    def lists_after_call(self, target: str, mapping, entry: State, exit_state: State | None, state: State) -> None:
        """A list handed to a project function keeps its type if the function left its parameter
        with the same type and stored it nowhere; a list the function reads as a global ends it."""
        if not self.lists_live:
            return
        free = self.evidence.free_names(target)
        for key in [k for k, t in state.types.items() if t.startswith(ELEMENTS_OF)]:
            if key in free:
                self._set_items(key, None, state)
        for callee_key, caller_key in mapping:
            if not (state.types.get(caller_key) or "").startswith(ELEMENTS_OF):
                continue
            kept = (
                exit_state is not None
                and not exit_state.dead
                and exit_state.types.get(callee_key) == entry.types.get(callee_key)
                and not any(source == callee_key or source.startswith(callee_key + ".") for source in exit_state.aliases.values())
            )
            if not kept:
                self._set_items(caller_key, None, state)


def list_is_walked_whole(evidence, fref, key: str) -> bool:
    """``Evidence.tracks_items``, computed: no code but the walk of ``fref`` can reach the list ``key``."""
    info = fref.info
    if not key.isidentifier() or info.is_generator or key in info.item_writes:
        return False
    if key not in info.local_names and key not in info.params:
        return False
    if info.qualname == "<module>":
        module = fref.file.module
        if any(target == module or target.startswith(module + ".") for target in evidence.imported_modules()):
            return False
        readers = [fid for fid in evidence.file_functions(fref.file.path) if fid != fref.id]
    else:
        readers, todo = [], list(evidence.project.nested.get(fref.id, {}).values())
        while todo:
            fid = todo.pop()
            readers.append(fid)
            todo.extend(evidence.project.nested.get(fid, {}).values())
    return not any(key in evidence.own_free_names(fid) for fid in readers)
