"""Typed records of the flow walk: a function's summary, what a call evaluates to, and what
leaving a ``with`` item has to undo.

The interpreter keeps, per call node, the record of what the call returned (``CallResult``):
binding ``x = f(...)`` or passing ``f(...)`` on reads it. A node without a record is a call
evallint could not follow; ``Untracked`` marks a call that was followed and returned no
module (a model's output), which is not the same: wrappers and chained calls over it are
known to return no module either.
"""

from __future__ import annotations

from dataclasses import dataclass

from evallint.analysis import ir
from evallint.analysis.lattice import Facts, State


@dataclass
class Summary:
    """What walking a function from one entry state gives its callers."""

    exit: State
    yielded: State | None
    returned: Facts | None
    returned_role: str | None = None  # roles.NOT_MODEL or MODE_FREE: a factory of losses or plain layers
    returned_type: str | None = None  # the project class (or library kind) of the model every return gives
    # Whether the walk (its callees' included) read the grad mode for a fact or a pending forward;
    # a walk that did not is the same under any grad mode the caller brings (``Analyzer.analyze``).
    reads_grad: bool = True


# -- what a call evaluates to ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fresh:
    """A module whose mode is known where it is made: built, loaded, from_pretrained, returned."""

    modes: Facts
    role: str | None = None  # roles.MODE_FREE for a module without mode-dependent layers
    type_id: str | None = None  # its project class, or roles.RUNS_WITHOUT_GRAD, when known


@dataclass(frozen=True, slots=True)
class Alias:
    """The call returns the module it was called on (``model.to(device)``, ``model.train()``)."""

    key: str


@dataclass(frozen=True, slots=True)
class Instance:
    """An instance of a project class; its ``__init__`` runs when it is bound to a name."""

    class_id: str
    call: ir.Call


@dataclass(frozen=True, slots=True)
class NotModel:
    """A value known to be no model (a loss, a tokenizer from ``from_pretrained``)."""


@dataclass(frozen=True, slots=True)
class Unpacked:
    """Several values (``accelerator.prepare(model, optimizer)``), one per target of the assignment."""

    items: tuple[ir.Value, ...]


@dataclass(frozen=True, slots=True)
class GradContext:
    """A grad context built here (``torch.no_grad()``) and entered later."""

    grad: Facts


@dataclass(frozen=True, slots=True)
class ContextManager:
    """A project generator context manager built here and entered later (``enter_context``)."""

    summary: Summary
    mapping: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class AttributeOfModel:
    """``getattr(model, name)``: calling it calls a method of the model."""

    key: str
    attr: str | None


@dataclass(frozen=True, slots=True)
class NewList:
    """``list()``: a new, empty list (``lattice.ELEMENTS_OF``)."""


@dataclass(frozen=True, slots=True)
class Untracked:
    """A call that was followed and returns nothing the walk tracks (a model's output)."""


NOT_MODEL = NotModel()
UNTRACKED = Untracked()
NEW_LIST = NewList()

CallResult = (
    Fresh | Alias | Instance | NotModel | Unpacked | GradContext | ContextManager | AttributeOfModel | NewList | Untracked
)


def known(result: CallResult | None) -> CallResult | None:
    """The record, or None for a call whose result says nothing (unfollowed or a model's output)."""
    return None if result is UNTRACKED else result


# -- what leaving a `with` item undoes -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RestoreGrad:
    grad: Facts


@dataclass(frozen=True, slots=True)
class ExitContextManager:
    summary: Summary
    mapping: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ExitStackMark:
    """``with ExitStack() as stack:``: what was entered on the stack from this depth on."""

    depth: int


WithToken = RestoreGrad | ExitContextManager | ExitStackMark
