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
model calls (it is taken off the mode stack while a model runs; inputs of a
model call are checked at its boundary by the forward hooks); tensors are
looked up by ``id`` in a dict whose entries leave with the tensor (weakref
callbacks); a call none of whose inputs is a source costs one lookup per tensor
argument. Outputs of model calls that carry a graph are followed only through
operations that drop the graph (``detach``, ``argmax``): while the graph stays,
the output's own gradient hook answers.

What it cannot see: values that leave torch (``.item()``, ``.tolist()``,
NumPy) and come back as new tensors; torch calls in threads other than the one
that installed it. Such consumers look like evaluation to the verifier.
"""

from __future__ import annotations

import weakref

# A bound on what one call inspects and on what one tensor remembers.
MAX_SCANNED_ITEMS = 16
MAX_SOURCES = 8


class OutputFlow:
    def __init__(self, torch, on_fed, on_error) -> None:
        self.torch = torch
        self._on_fed = on_fed
        self._on_error = on_error
        # id(tensor) -> (weakref, sources, follow_with_graph)
        self._entries: dict[int, tuple] = {}
        self.mode = _make_mode(torch, self)

    # ---- the mode stack -------------------------------------------------------

    def install(self) -> None:
        self.torch._C._push_on_torch_function_stack(self.mode)

    def _on_top(self) -> bool:
        C = self.torch._C
        depth = C._len_torch_function_stack()
        return depth > 0 and C._get_function_stack_at(depth - 1) is self.mode

    def uninstall(self) -> None:
        if self._on_top():
            self.torch._C._pop_torch_function_stack()

    def suspend(self) -> bool:
        """Take the mode off the stack while a model runs; True when it was there."""
        if self._on_top():
            self.torch._C._pop_torch_function_stack()
            return True
        return False

    def resume(self, suspended: bool) -> None:
        if suspended:
            self.torch._C._push_on_torch_function_stack(self.mode)

    # ---- sources --------------------------------------------------------------

    def _tensors(self, value):
        tensor_type = self.torch.Tensor
        if isinstance(value, tensor_type):
            yield value
        elif isinstance(value, (list, tuple)):
            for item in value[:MAX_SCANNED_ITEMS]:
                if isinstance(item, tensor_type):
                    yield item
        elif isinstance(value, dict):
            for item in list(value.values())[:MAX_SCANNED_ITEMS]:
                if isinstance(item, tensor_type):
                    yield item

    def _lookup(self, values) -> tuple[frozenset, frozenset]:
        """(sources without a graph, sources followed only where the graph is dropped)."""
        plain: frozenset = frozenset()
        graph: frozenset = frozenset()
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

    def model_output(self, output, seq: int, inputs: frozenset) -> None:
        """Make the tensors a model call returned sources of that call (and of its inputs' sources)."""
        sources = frozenset((seq,)) | inputs
        for tensor in self._tensors(output):
            self._remember(tensor, sources, tensor.grad_fn is not None)

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
