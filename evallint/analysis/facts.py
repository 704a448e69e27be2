"""Facts the analysis computes once; rules read them and never walk trees.

Every fact names its node by (file, ordinal). Possibility sets are already
filtered by the branch conditions on the path where the fact was observed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from evallint.analysis.lattice import Facts
from evallint.internal_errors import InternalError


@dataclass(frozen=True)
class CallerInfo:
    """The call site that gave a function the state a fact was observed in."""

    file: str
    node: int
    function: str  # caller qualname


@dataclass(frozen=True)
class ContextInfo:
    kind: str  # "eval", "train", "managed-eval", "managed-train", "neutral"
    label: str  # "validate()", "the loop over val_loader"
    file: str = ""
    node: int = -1
    # Told by where the forward's output goes rather than by a function, loop or block: no
    # single place to put `eval()` or `no_grad()` follows from it, so its findings carry no fix.
    by_flow: bool = False


@dataclass(frozen=True)
class ModelForward:
    """A model call (``model(x)``, ``model.forward(x)``, ``model.generate(...)``)."""

    file: str
    node: int
    function: str
    key: str
    method: str  # "call", "forward" or "generate"
    context: ContextInfo
    modes: Facts
    grad: Facts
    needs_grad: bool  # the enclosing evaluation region asks for gradients on purpose
    caller: CallerInfo | None
    mode_matters: bool = True  # False for modules with no mode-dependent layer (`nn.Linear`)
    trained_at: tuple[int, ...] = ()  # where this function trains or loads the model (nodes)
    path: tuple = ()  # the branch conditions around the forward: (text, taken arm, deps)


@dataclass(frozen=True)
class TrainingForward:
    """A forward whose result a later backward / optimizer step trains on."""

    file: str
    node: int
    function: str
    key: str
    modes: Facts  # modes at the forward, filtered by the path conditions of the step
    step_file: str
    step_node: int
    step_kind: str  # "backward", "step" or "lightning"
    region_file: str
    region_node: int  # the innermost training region (loop or function) around the step
    caller: CallerInfo | None
    # Its parameters are frozen but for some a condition spares (`if name not in head:`).
    partly_frozen: bool = False


@dataclass(frozen=True)
class BareModeAttribute:
    file: str
    node: int
    receiver: str | None
    attr: str


@dataclass(frozen=True)
class GradContextNotEntered:
    file: str
    node: int
    name: str  # "torch.no_grad"
    form: str  # "statement" (built and thrown away) or "uncalled-with"


@dataclass(frozen=True)
class Reveal:
    file: str
    node: int
    key: str | None
    modes: Facts | None
    grad: Facts


@dataclass
class ProjectFacts:
    forwards: list[ModelForward] = field(default_factory=list)
    training_forwards: list[TrainingForward] = field(default_factory=list)
    bare_mode_attributes: list[BareModeAttribute] = field(default_factory=list)
    grad_contexts_not_entered: list[GradContextNotEntered] = field(default_factory=list)
    reveals: list[Reveal] = field(default_factory=list)
    # Functions the analysis failed on (a bug of evallint's): each is unknown to its callers.
    internal_errors: list[InternalError] = field(default_factory=list)

    def extend(self, other: "ProjectFacts") -> None:
        for kind in fields(self):
            getattr(self, kind.name).extend(getattr(other, kind.name))
