"""The abstract state of the flow walk: modes of model references, grad mode, aliases.

A fact is a set of *possibilities*. Each possibility is a value with the place
that produced it (its origin, for messages), an optional guard (the branch
condition it was set under, so correlated switches such as
``model.train(phase == "train")`` + ``torch.set_grad_enabled(phase == "train")``
do not combine into impossible states) and the loops whose back edge it crossed
(so "switched to eval at the end of one step, still eval in the next" can be
told apart from "switched to eval inside this step").

Join is set union; states are immutable-by-convention (copy before changing).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from evallint.analysis.callgraph import join_class_types
from evallint.analysis.names import key_and_ancestors
from evallint.strict import strict

TRAIN = "train"
EVAL = "eval"
UNKNOWN = "unknown"
GRAD_ON = "on"
GRAD_OFF = "off"

# Origin kinds.
SET_BY_CALL = "call"  # model.eval() / model.train(...)
CONSTRUCTED = "construct"  # Net(), nn.Linear(...)
PRETRAINED = "pretrained"  # X.from_pretrained(...)
ENTRY = "entry"  # nothing in the analysed code sets it
UNRESOLVED = "unresolved"  # an unresolved call may have changed it
DEFAULT = "default"  # grad on by default
CONTEXT = "context"  # a `with` block or decorator
LOADED = "loaded"  # torch.load(...) of a whole model: in the mode it was saved in

# Prefix of the type (``State.types``) of a Python list or tuple whose every item has the role
# that follows, "mode-free" or "not-model" (``roles``): `[nn.Linear(4, 2), nn.Linear(2, 1)]`, a
# list only ever appended such modules. Its items, iterated or sliced, have that role; the list
# itself is no module.
ELEMENTS_OF = "elements:"
_MODE_FREE_ELEMENTS = ELEMENTS_OF + "mode-free"

MAX_POSSIBILITIES = 12
PASSED_THROUGH = "passed through"

# The walk builds millions of origins and possibilities: slotted and unfrozen they build much faster
# (a frozen dataclass sets each field through object.__setattr__). They are never changed once
# built, and evallint's own tests run strict, where they are frozen: code that changes one fails there.
_value = functools.partial(dataclass, frozen=strict(), slots=True, unsafe_hash=True)


@_value(order=True)
class Origin:
    kind: str
    file: str = ""
    node: int = -1
    function: str = ""  # qualname of the function where it happened
    region: tuple = ()  # (file, node) of the innermost evaluation/training region, if any
    region_kind: str = ""  # "eval", "train" or ""
    detail: str = ""  # e.g. the callee name when a helper set the mode
    # The model's name where a switch is written (`net` in `net.eval()`): a message about a
    # helper's `self.model` names the caller's own line as the caller wrote it.
    receiver: str = ""


@functools.total_ordering
@_value()
class Poss:
    value: str
    origin: Origin
    # () or (condition text, truth value, deps): the branch the possibility was set in; with a
    # fourth item PASSED_THROUGH, the branch it survived untouched (`if c: model.eval()` leaves
    # the earlier mode only where c was false). Both prune paths; only the first is a choice.
    guard: tuple = ()
    carried: frozenset = field(default=frozenset())  # loop ids whose back edge this crossed

    @property
    def chosen_under_condition(self) -> bool:
        """Set in a branch (`if training: model.train()`), not merely left there by one."""
        return len(self.guard) == 3

    def without_guard_on(self, names: set[str]) -> "Poss":
        if self.guard and names.intersection(self.guard[2]):
            return Poss(self.value, self.origin, (), self.carried)
        return self

    # Ordered by this key, not by dataclass: ``carried`` is a set, and sets compare by inclusion,
    # which is no total order. Sorting possibilities (the widening in join_facts, the origin a
    # message names) would then depend on the order a set of them is iterated in, which changes
    # with each process's string hashing: findings changed from one run to the next.
    def sort_key(self) -> tuple:
        return (self.value, self.origin, self.guard, sorted(self.carried))

    def __lt__(self, other: "Poss") -> bool:
        return self.sort_key() < other.sort_key()


Facts = frozenset  # frozenset[Poss]


def join_facts(a: Facts, b: Facts) -> Facts:
    if a is b or a == b:
        return a
    merged = a | b
    if len(merged) > MAX_POSSIBILITIES:
        # Keep one possibility per value: the earliest origin, unguarded.
        by_value: dict[str, Poss] = {}
        for poss in sorted(merged, key=Poss.sort_key):
            by_value.setdefault(poss.value, Poss(poss.value, poss.origin, (), poss.carried))
        merged = frozenset(by_value.values())
    return merged


def feasible(facts: Facts, path: tuple) -> Facts:
    """Drop possibilities whose guard contradicts the branch conditions on the current path."""
    if not path:
        return facts
    assumed = {text: truth for text, truth, _deps in path}
    kept = frozenset(p for p in facts if not p.guard or assumed.get(p.guard[0], p.guard[1]) == p.guard[1])
    return kept


@dataclass(slots=True)
class Pending:
    """A forward pass of a model whose loss may be backpropagated later in the step."""

    key: str
    file: str
    node: int
    function: str
    modes: Facts
    grad: Facts


@dataclass(slots=True)
class State:
    modes: dict[str, Facts] = field(default_factory=dict)
    grad: Facts = field(default_factory=frozenset)
    aliases: dict[str, str] = field(default_factory=dict)
    saved_flags: dict[str, Facts] = field(default_factory=dict)  # was_training = model.training
    saved_flag_keys: dict[str, str] = field(default_factory=dict)  # was_training -> "model"
    frozen: frozenset = field(default_factory=frozenset)  # keys whose parameters are frozen
    pending: dict[str, Pending] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)  # key -> class id of a project class instance
    dead: bool = False  # no path reaches here (after return/raise/break)
    entry: Origin = Origin(ENTRY)  # where keys nothing has set get their mode from
    unknown_roots: frozenset = field(default_factory=frozenset)  # roots whose attributes start unknown
    # Keys whose parameters are frozen but for some a condition spares (a linear probe's head).
    partly_frozen: frozenset = field(default_factory=frozenset)

    def default_mode(self, key: str) -> Facts:
        """A model nothing has switched is in train mode (a fresh nn.Module is).

        Attributes of an object the analysis did not see being set up (``self.*`` in a method
        nobody in the project calls, beyond what ``__init__`` sets) start unknown instead.
        """
        if self.unknown_roots and ("*" in self.unknown_roots or key.split(".")[0] in self.unknown_roots):
            return frozenset({Poss(UNKNOWN, Origin(UNRESOLVED, self.entry.file, self.entry.node, self.entry.function))})
        return frozenset({Poss(TRAIN, self.entry)})

    def copy(self) -> "State":
        # Field by field, without the generated __init__ and its default-factory checks: the walk
        # copies a state at every branch and call.
        copied = _new_state(State)
        copied.modes = dict(self.modes)
        copied.grad = self.grad
        copied.aliases = dict(self.aliases)
        copied.saved_flags = dict(self.saved_flags)
        copied.saved_flag_keys = dict(self.saved_flag_keys)
        copied.frozen = self.frozen
        copied.pending = dict(self.pending)
        copied.types = dict(self.types)
        copied.dead = self.dead
        copied.entry = self.entry
        copied.unknown_roots = self.unknown_roots
        copied.partly_frozen = self.partly_frozen
        return copied

    @staticmethod
    def unreachable() -> "State":
        return State(dead=True)

    # -- references ---------------------------------------------------------------------

    def canonical(self, key: str) -> str:
        """Follow aliases on the longest matching prefix: ``mw.backbone`` -> ``model.backbone``."""
        aliases = self.aliases
        if not aliases:
            return key
        for _ in range(8):
            prefix = key  # then each shorter prefix that ends before a dot
            while True:
                target = aliases.get(prefix)
                if target is not None and target != prefix:
                    key = target + key[len(prefix) :]
                    break
                cut = prefix.rfind(".")
                if cut < 0:
                    return key
                prefix = prefix[:cut]
        return key

    def mode_of(self, key: str) -> Facts:
        """The mode facts of ``key``, of its closest ancestor that has any, or the default."""
        facts = self.modes.get(key)
        if facts is not None:
            return facts
        if not self.modes:
            return self.default_mode(key)
        for ancestor in key_and_ancestors(key):
            facts = self.modes.get(ancestor)
            if facts is not None:
                return facts
        return self.default_mode(key)

    def has_mode(self, key: str) -> bool:
        if not self.modes:
            return False
        return any(ancestor in self.modes for ancestor in key_and_ancestors(key))

    def set_mode(self, key: str, facts: Facts) -> None:
        prefixes = (key + ".", key + "[")
        for other in [k for k in self.modes if k.startswith(prefixes)]:
            del self.modes[other]
        self.modes[key] = facts

    def forget_guards_on(self, names: set[str]) -> None:
        if not names:
            return
        for key, facts in self.modes.items():
            for p in facts:
                if p.guard:
                    self.modes[key] = frozenset(p.without_guard_on(names) for p in facts)
                    break
        for p in self.grad:
            if p.guard:
                self.grad = frozenset(p.without_guard_on(names) for p in self.grad)
                break

    # -- lattice ------------------------------------------------------------------------------

    def join(self, other: "State") -> "State":
        if self.dead:
            return other.copy()
        if other.dead:
            return self.copy()
        if self.modes == other.modes:  # (most branches switch no mode: nothing to widen)
            modes = dict(self.modes)
        else:
            modes = {key: join_facts(self.mode_of(key), other.mode_of(key)) for key in self.modes.keys() | other.modes.keys()}
        aliases = {k: v for k, v in self.aliases.items() if other.aliases.get(k) == v}
        saved = {k: join_facts(v, other.saved_flags[k]) for k, v in self.saved_flags.items() if k in other.saved_flags}
        flag_keys = {k: v for k, v in self.saved_flag_keys.items() if other.saved_flag_keys.get(k) == v}
        pending = dict(self.pending)
        for key, item in other.pending.items():
            mine = pending.get(key)
            if mine is None:
                pending[key] = item
            else:
                pending[key] = Pending(
                    key, mine.file, mine.node, mine.function, join_facts(mine.modes, item.modes), join_facts(mine.grad, item.grad)
                )
        types = {}
        for key, type_id in self.types.items():
            theirs = other.types.get(key)
            if theirs == type_id:
                types[key] = type_id
            elif theirs is None:
                continue
            elif type_id.startswith(ELEMENTS_OF) and theirs.startswith(ELEMENTS_OF):
                # A list of mode-free modules on one path and of no modules at all on the other.
                types[key] = _MODE_FREE_ELEMENTS
            else:
                # Two project classes bound on two paths: a method call takes each class's own.
                choice = join_class_types(type_id, theirs)
                if choice is not None:
                    types[key] = choice
        # A class or function bound to a name on one path only, where the other path knows
        # nothing of the name (`if not self.loaded: self.model = LLM().eval()`, `if fn is not
        # None: self.encode = fn`): after the merge the name holds it, or what an earlier call
        # bound the same way, or nothing (the read fails).
        for one, two in ((self, other), (other, self)):
            for key, type_id in one.types.items():
                if key not in two.types and key not in two.aliases and two.knows_no_mode_of(key) and not type_id.startswith(ELEMENTS_OF):
                    types[key] = type_id
        return State(
            modes,
            join_facts(self.grad, other.grad),
            aliases,
            saved,
            flag_keys,
            self.frozen & other.frozen,
            pending,
            types,
            False,
            self.entry,
            self.unknown_roots,
            self.partly_frozen & other.partly_frozen,
        )

    def knows_no_mode_of(self, key: str) -> bool:
        """Has nothing on this path set the mode of ``key`` (it has its default, at most guarded)?"""
        facts = self.modes.get(key)
        if facts is None:
            return True
        default = {(p.value, p.origin) for p in self.default_mode(key)}
        return all((p.value, p.origin) in default for p in facts)

    def same_as(self, other: "State") -> bool:
        return (
            self.dead == other.dead
            and self.modes == other.modes
            and self.grad == other.grad
            and self.aliases == other.aliases
            and self.saved_flags == other.saved_flags
            and self.frozen == other.frozen
            and self.partly_frozen == other.partly_frozen
            and {k: (v.modes, v.grad, v.node) for k, v in self.pending.items()}
            == {k: (v.modes, v.grad, v.node) for k, v in other.pending.items()}
            and self.types == other.types
        )

    def forget_loops(self, loop_ids: frozenset) -> "State":
        """The state without these loops in any possibility's ``carried`` (see ``Interpreter.run``)."""
        if not loop_ids:
            return self
        forgotten = self.copy()
        forgotten.modes = {key: forget_loops(facts, loop_ids) for key, facts in self.modes.items()}
        forgotten.saved_flags = {key: forget_loops(facts, loop_ids) for key, facts in self.saved_flags.items()}
        forgotten.pending = {
            key: Pending(item.key, item.file, item.node, item.function, forget_loops(item.modes, loop_ids), item.grad)
            for key, item in self.pending.items()
        }
        return forgotten

    def mark_carried(self, loop_id: tuple) -> "State":
        """Tag every mode possibility as having crossed the back edge of ``loop_id``."""
        marked = self.copy()
        for key, facts in marked.modes.items():
            marked.modes[key] = frozenset(
                p if loop_id in p.carried else Poss(p.value, p.origin, p.guard, p.carried | {loop_id}) for p in facts
            )
        return marked


_new_state = object.__new__


def forget_loops(facts: Facts, loop_ids: frozenset) -> Facts:
    if not any(p.carried and not loop_ids.isdisjoint(p.carried) for p in facts):
        return facts
    return frozenset(
        Poss(p.value, p.origin, p.guard, p.carried - loop_ids) if not loop_ids.isdisjoint(p.carried) else p for p in facts
    )


def join_all(states: list[State]) -> State:
    result = State.unreachable()
    for state in states:
        result = result.join(state)
    return result
