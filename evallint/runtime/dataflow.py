"""Follow model outputs that carry no autograd graph to the backward they may feed.

A forward under ``no_grad`` (or a frozen model's forward, or ``out.detach()``)
leaves no graph from its output to the loss, so a gradient hook on the output
cannot tell pseudo-labels and distillation targets of a training step from an
evaluation pass. This probe follows those tensors through torch operations
instead: the output of every outermost model call is a *source*; a torch
operation whose inputs include a source passes the source on to its outputs
(``argmax``, ``softmax``, ``>``, ``detach``, indexing...); once a source is
combined with a tensor that requires grad, a gradient hook on the result tells
whether that computation was backpropagated, and if so every forward it came
from was on the training side (``roles.is_training_forward``).

How it stays cheap: a ``TorchFunctionMode`` sees each torch call made outside
model calls (it is taken off the mode stack while a model runs, while an
optimizer steps and while it zeroes gradients; inputs of a model call are
checked at its boundary by the forward hooks); tensors are looked up by ``id``
in a dict whose entries leave with the tensor (weakref callbacks); a call none
of whose inputs is a source costs one lookup per tensor argument. Outputs of
model calls that carry a graph are followed only through operations that drop
the graph (``detach``, ``argmax``): while the graph stays, the output's own
gradient hook answers. With no source alive the mode follows nothing, so it is
on the stack only while one is: it goes on when a model call returns one, and
comes off at the next boundary (a model call, a ``backward()``, an optimizer
step or ``zero_grad``) that finds none left. A training step whose logits die
inside the loss then runs its ``zero_grad``, ``backward`` and step with no
mode at all.

What it cannot see: values that leave torch (``.item()``, ``.tolist()``,
NumPy) and come back as new tensors; torch calls in threads other than the one
that installed it, and in that thread, calls on the output of a model called
in another thread before that thread's next boundary. Such consumers look like
evaluation to the verifier.
"""

from __future__ import annotations

import threading
import weakref

# A bound on what one call inspects and on what one tensor remembers.
MAX_SCANNED_ITEMS = 16
MAX_SOURCES = 8
_NONE: frozenset = frozenset()


class OutputFlow:
    def __init__(self, torch, on_fed, on_error) -> None:
        self.torch = torch
        self._on_fed = on_fed
        self._on_error = on_error
        # id(tensor) -> (weakref, sources, follow_with_graph)
        self._entries: dict[int, tuple] = {}
        self.mode = _make_mode(torch, self)
        self._thread: int | None = None
        self._installed = False
        self._held = 0
        self._pushed = False

    # ---- the mode stack -------------------------------------------------------
    #
    # Only the installing thread's stack is touched. ``_held`` counts the open
    # suspensions there (a model call, an optimizer step, ``zero_grad``; an
    # LBFGS closure nests a model call in a step); the mode goes back on when
    # the last one ends, and only if a source is alive.

    def install(self) -> None:
        self._thread = threading.get_ident()
        self._installed = True
        self._held = 0
        self._pushed = False

    def uninstall(self) -> None:
        self._installed = False
        self._take_off()

    def suspend(self) -> None:
        """Take the mode off the stack while a model runs (or an optimizer updates)."""
        if threading.get_ident() != self._thread:
            return
        self._held += 1
        self._take_off()

    def resume(self) -> None:
        if threading.get_ident() != self._thread or not self._held:
            return
        self._held -= 1
        if not self._held:
            self.settle()

    def settle(self) -> None:
        """Put the mode on the stack if a source is alive, take it off if none is."""
        if threading.get_ident() != self._thread or self._held:
            return
        if self._entries and self._installed:
            self._put_on()
        else:
            self._take_off()

    def _put_on(self) -> None:
        """Push the mode under any mode the user entered since, as if it had stayed there.

        A ``with SomeMode():`` block pops the top of the stack when it ends,
        whatever that is: pushing on top of the user's mode would make it pop
        this one instead.
        """
        if self._pushed:
            return
        C = self.torch._C
        above = [C._pop_torch_function_stack() for _ in range(C._len_torch_function_stack())]
        C._push_on_torch_function_stack(self.mode)
        for mode in reversed(above):
            C._push_on_torch_function_stack(mode)
        self._pushed = True

    def _take_off(self) -> None:
        # Under a mode the user entered, the mode stays (and keeps following)
        # until it is on top again: only the top of the stack can be popped.
        if not self._pushed:
            return
        C = self.torch._C
        depth = C._len_torch_function_stack()
        if depth > 0 and C._get_function_stack_at(depth - 1) is self.mode:
            C._pop_torch_function_stack()
            self._pushed = False

    # ---- sources --------------------------------------------------------------

    def _tensors(self, value) -> tuple | list:
        """The tensors in ``value``: itself, or the first items of a list, tuple or dict. Every
        torch call with a source alive asks about each argument, most of them plain values."""
        tensor_type = self.torch.Tensor
        if isinstance(value, tensor_type):
            return (value,)
        if isinstance(value, (list, tuple)):
            return [item for item in value[:MAX_SCANNED_ITEMS] if isinstance(item, tensor_type)]
        if isinstance(value, dict):
            return [item for item in list(value.values())[:MAX_SCANNED_ITEMS] if isinstance(item, tensor_type)]
        return ()

    def _lookup(self, values) -> tuple[frozenset, frozenset]:
        """(sources without a graph, sources followed only where the graph is dropped)."""
        plain: frozenset = _NONE
        graph: frozenset = _NONE
        entries = self._entries
        for value in values:
            for tensor in self._tensors(value):
                entry = entries.get(id(tensor))
                if entry is None or entry[0]() is not tensor:
                    continue
                if entry[2]:
                    graph = graph | entry[1]
                else:
                    plain = plain | entry[1]
        return plain, graph

    def sources_of(self, args) -> frozenset:
        """Every forward that the tensors in ``args`` (a model call's inputs) came from."""
        if not self._entries:
            return frozenset()
        plain, graph = self._lookup(args)
        return plain | graph

    def _remember(self, tensor, sources: frozenset, follow_with_graph: bool) -> None:
        key = id(tensor)
        entry = self._entries.get(key)
        if entry is not None and entry[0]() is tensor:
            sources = entry[1] | sources  # an in-place op on a source keeps both
            follow_with_graph = follow_with_graph and entry[2]
        if len(sources) > MAX_SOURCES:
            sources = frozenset(sorted(sources)[-MAX_SOURCES:])
        entries = self._entries

        def forget(ref, key=key):
            current = entries.get(key)
            if current is not None and current[0] is ref:
                del entries[key]

        try:
            ref = weakref.ref(tensor, forget)
        except TypeError:
            return
        entries[key] = (ref, sources, follow_with_graph)

    def _watch(self, tensor, sources: frozenset) -> None:
        if not tensor.requires_grad:
            return
        fired = [False]
        on_fed = self._on_fed

        def on_gradient(_grad):
            if not fired[0]:
                fired[0] = True
                on_fed(sources)
            return None

        tensor.register_hook(on_gradient)

    def model_output(self, output, seq: int, inputs: frozenset, without_graph_only: bool = False) -> None:
        """Make the tensors a model call returned sources of that call (and of its inputs' sources)."""
        sources = frozenset((seq,)) | inputs
        for tensor in self._tensors(output):
            with_graph = tensor.grad_fn is not None
            if not (with_graph and without_graph_only):
                self._remember(tensor, sources, with_graph)

    def after_call(self, args, kwargs, result) -> None:
        plain, graph = self._lookup(args if not kwargs else (*args, *kwargs.values()))
        if not plain and not graph:
            return
        for tensor in self._tensors(result):
            if tensor.grad_fn is not None:
                if plain:
                    self._watch(tensor, plain)
            else:
                self._remember(tensor, plain | graph, False)


def _make_mode(torch, flow: OutputFlow):
    from torch.overrides import TorchFunctionMode

    class FollowModelOutputs(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            if kwargs is None:
                kwargs = {}
            result = func(*args, **kwargs)
            if flow._entries:
                try:
                    flow.after_call(args, kwargs, result)
                except Exception as exc:  # a probe must never break the script
                    flow._on_error(exc)
            return result

    return FollowModelOutputs()
