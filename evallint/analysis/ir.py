"""The plain-data summary of one file: a small structured IR of every function body.

The index (phase 1) turns a CPython syntax tree into these records; everything after it
(call graph, summaries, flow, facts, rules) reads only these records, so they
can be computed in parallel worker processes and cached by content hash.

Expressions are reduced to what matters for mode and grad analysis:
- a *chain* is a dotted name such as ``self.model.module`` (``None`` when the
  expression is not a plain name chain);
- a *key* is a chain with wrappers removed (``model.module`` -> ``model``,
  ``DDP(model)`` -> ``model``), the way pyright keys reference expressions;
- nodes are identified by an ordinal; ``FileIndex.span`` gives each one's source
  span, so diagnostics get positions without parsing the file again.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field, fields
from functools import partial
from operator import attrgetter
from typing import Union

from evallint.strict import strict


def record(cls):
    """A slotted dataclass, hashed by value, that pickles as a call of its constructor.

    Records are never changed once built. A frozen dataclass would enforce that,
    but its ``__init__`` sets each field through ``object.__setattr__``, and a
    large tree builds (in the index) and rebuilds (from each pickle) hundreds of
    thousands of records, which index and unpickle measurably faster unfrozen
    (benchmarks/README.md). evallint's own test suite runs strict, and there the
    records are frozen, so code that changes one fails its tests.

    Every file's IR crosses a process boundary (worker to main process) and the
    cache as a pickle. The reduction dataclasses give slotted classes looks up
    the field list again for each object, in Python; this one reads all fields
    with one C-level getter and rebuilds through ``__init__``, which is much faster
    on a large tree's IR.
    """
    cls = dataclass(slots=True, frozen=strict(), unsafe_hash=True)(cls)
    names = tuple(item.name for item in fields(cls))
    if len(names) > 1:
        values = attrgetter(*names)
    elif names:
        single = attrgetter(names[0])
        values = lambda item: (single(item),)  # noqa: E731
    else:
        values = lambda item: ()  # noqa: E731
    cls.__reduce__ = lambda item: (type(item), values(item))
    return cls


# -- values -------------------------------------------------------------------


@record
class RefValue:
    """A reference to a variable or attribute chain, e.g. ``model`` or ``self.net``."""

    key: str


@record
class ConstValue:
    value: object  # True, False, None, int, float or str


@record
class CondValue:
    """A boolean expression kept symbolically: ``phase == "train"``, ``is_training``."""

    text: str
    deps: tuple[str, ...]
    negated: bool = False


@record
class TrainingFlagValue:
    """``model.training``: the current mode of ``key``."""

    key: str


@record
class CallValue:
    """The result of the call with ordinal ``node`` (emitted as a Call event just before)."""

    node: int


@record
class TupleValue:
    items: tuple["Value", ...]


@record
class MixValue:
    """A value computed from others (arithmetic, indexing, an attribute of a call's result...).

    Only the data flow reads it (``dataflow``: does a forward's output reach a backward?); for
    everything else it is as opaque as ``OtherValue``.
    """

    parts: tuple["Value", ...]


@record
class OtherValue:
    pass


@record
class LambdaValue:
    """A ``lambda``: a name bound to one holds a function, with no mode (``net = lambda X: X @ w``)."""


Value = Union[RefValue, ConstValue, CondValue, TrainingFlagValue, CallValue, TupleValue, MixValue, OtherValue, LambdaValue]
OTHER = OtherValue()
LAMBDA = LambdaValue()


def mix(values) -> "Value":
    """The value computed from ``values``: a MixValue of those that carry data, else OTHER."""
    parts = tuple(value for value in values if type(value) in _CARRIES_DATA)
    return MixValue(parts) if parts else OTHER

_CARRIES_DATA = frozenset({RefValue, CallValue, TupleValue, MixValue})

# -- statements -----------------------------------------------------------------


@record
class Call:
    node: int
    func: str | None  # dotted chain of the callee, e.g. "model.eval", "torch.no_grad"
    receiver: "Value | None"  # the receiver for attribute calls: RefValue("model") for model.module.eval()
    method: str | None  # last attribute for attribute calls
    args: tuple[Value, ...]
    kwargs: tuple[tuple[str, Value], ...]
    statement: bool = False  # the call is an expression statement of its own
    unpacked: bool = False  # `f(*xs)` or `f(**kw)`: some arguments are not in args and kwargs

    @property
    def arguments(self) -> tuple[Value, ...]:
        """Every argument's value: the positional ones, then the keyword ones."""
        if not self.kwargs:
            return self.args
        return (*self.args, *(value for _, value in self.kwargs))


@record
class DictDisplay:
    """A dict display (``{"drop_rate": 0.0, "layers": {...}}``) key by key, for what reads
    configurations: each literal key with its value (a nested display for a nested dict).
    ``complete`` is False when some keys are not literals or come from ``**other``."""

    entries: tuple[tuple[object, "Value | DictDisplay"], ...]
    complete: bool


@record
class Assign:
    node: int
    targets: tuple[str | None, ...]  # chains; several for tuple unpacking, None for unsupported targets
    value: Value
    display: DictDisplay | None = None  # the dict display assigned, when the value is one
    slice_of: str | None = None  # `part = items[a:b]`: the chain whose slice (a new list of its items) is assigned


@record
class BareAttribute:
    """An expression statement that is only an attribute, e.g. ``model.eval``."""

    node: int
    receiver: str | None
    attr: str


@record
class If:
    node: int
    cond: CondValue | None
    body: tuple["Stmt", ...]
    orelse: tuple["Stmt", ...]


@record
class Loop:
    node: int
    is_while: bool
    infinite: bool
    iter_words: tuple[str, ...]  # identifier words of the iterable, e.g. ("val", "loader")
    iter_text: str  # the iterable as written (shortened), for messages
    targets: tuple[str, ...]
    body: tuple["Stmt", ...]
    orelse: tuple["Stmt", ...]
    frozen_params_of: str | None = None  # `for p in X.parameters(): p.requires_grad = False`
    partly_frozen_params_of: str | None = None  # the same under a condition that spares some
    source: "Value" = OTHER  # what the loop iterates over, for the data flow
    # `for k in models.keys(): models[k].eval()`: the container whose entries the body reaches
    # one by one (an empty one has no entry left in the other mode, so the loop counts as run).
    over_entries_of: str | None = None


@record
class WithItem:
    node: int
    call: Call | None  # `with torch.no_grad():` -> the call (not emitted as an event)
    chain: str | None  # `with torch.no_grad:` -> "torch.no_grad" (an uncalled context manager)
    target: str | None


@record
class With:
    node: int
    items: tuple[WithItem, ...]
    body: tuple["Stmt", ...]


@record
class Try:
    node: int
    body: tuple["Stmt", ...]
    handlers: tuple[tuple["Stmt", ...], ...]
    orelse: tuple["Stmt", ...]
    finalbody: tuple["Stmt", ...]


@record
class Return:
    node: int
    value: "Value" = OTHER


@record
class Raise:
    node: int


@record
class Break:
    node: int


@record
class Continue:
    node: int


@record
class Yield:
    node: int


@record
class Reveal:
    """``reveal_state(model)``: the flow tests ask for the state at this point."""

    node: int
    key: str | None


Stmt = Union[Call, Assign, BareAttribute, If, Loop, With, Try, Return, Raise, Break, Continue, Yield, Reveal]

# -- definitions --------------------------------------------------------------------


@record
class Decorator:
    chain: str | None
    called: bool
    args: tuple[Value, ...] = ()


@record
class FunctionInfo:
    qualname: str  # "Trainer.fit", "main.<locals>.evaluate", "<module>"
    name: str
    node: int
    params: tuple[str, ...]
    decorators: tuple[Decorator, ...]
    body: tuple[Stmt, ...]
    local_names: frozenset[str]
    class_name: str | None  # the directly enclosing class, for methods
    parent: str | None  # qualname of the enclosing function, for closures
    is_generator: bool
    is_async: bool
    imported_names: frozenset[str] = frozenset()  # names bound by import statements in the body
    positional: int = 0  # how many of ``params`` can be given by position (before ``*args``)
    defaults: tuple[tuple[str, object], ...] = ()  # parameters whose default is a literal, with it
    item_writes: frozenset[str] = frozenset()  # chains whose items the body assigns or deletes (`cfg["p"] = 0.1`)


@record
class ClassInfo:
    qualname: str
    name: str
    node: int
    bases: tuple[str, ...]  # chains
    methods: tuple[str, ...]  # method names defined in the class body


STAR_IMPORT = "*"


@record
class Import:
    local: str  # name bound in this module; STAR_IMPORT for `from target import *`
    target: str  # dotted target, relative imports keep their leading dots
    level: int = 0


@record
class FileIndex:
    """Everything the whole-project phase needs from one file."""

    path: str
    module: str  # dotted module name, e.g. "pkg.train"
    is_package: bool
    imports: tuple[Import, ...]
    functions: tuple[FunctionInfo, ...]  # the module body itself is the "<module>" function
    classes: tuple[ClassInfo, ...]
    # Per node ordinal: four numbers, (line, UTF-8 column, end line, end UTF-8 column) as CPython
    # reports them (read them with ``span``), and the CPython node type ("Call", "Attribute",
    # "withitem"...), to find the node again for fixes. Only findings read spans, and there are
    # hundreds of thousands: one flat array takes far less memory than a tuple per node, and
    # crosses a process boundary as one string of bytes.
    spans: array = field(default_factory=partial(array, "i"), hash=False)
    kinds: tuple[str, ...] = ()

    def span(self, ordinal: int) -> tuple[int, int, int, int]:
        start = 4 * ordinal
        line, column, end_line, end_column = self.spans[start : start + 4]
        return line, column, end_line, end_column

    def node_count(self) -> int:
        return len(self.kinds)
