"""Probes installed inside the process that runs the user's models.

They observe, they never change what the script computes: every probe catches
its own errors and returns ``None`` to torch. What they see goes to a writer
as records: a ``writer.RecordWriter`` for ``evallint verify`` (one JSON line
per record, across a process boundary), or ``live.LiveRecorder`` in the
process itself for the pytest plugin and the guard. Where in the user's code
something happened is ``stack``'s; what a model is (its mode, whether it was
trained) is ``module_facts``'; BatchNorm drift is ``batchnorm``'s.

Records (one JSON object per line, ``t`` names the kind):

``sig``   a signature, written once and referenced by id afterwards so that a
          loop of a million identical forwards costs a few bytes each:
          ``kind`` is ``forward`` / ``step`` / ``backward`` / ``mode``, with the
          user's stack (``frames``) and the state that matters for that kind.
``f``     an outermost model call: signature ``s``, sequence number ``q``,
          ``g`` (1 when its output carries an autograd graph), ``o`` (1 when no
          tensor was found in its output), ``mem`` (CUDA bytes the call left
          allocated, when CUDA is in use).
``bp``    gradient reached the output of forward ``q`` (it was a training forward).
``fd``    a tensor computed from the output of forward ``q`` fed a computation that
          was backpropagated (``dataflow``: pseudo-labels, targets).
``b``     a ``backward()`` call (signature ``s``).
``st``    an optimizer step (signature ``s`` lists the trained modules and their mode).
``mo``    a ``Module.train(mode)`` / ``eval()`` call made by user code.
``bn``    BatchNorm running statistics moved by ``drift`` during one pass of a
          module at one call site (a run of calls with no backward in between).
``start`` / ``end`` / ``error`` / ``internal``  bookkeeping from the bootstrap.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections import deque

from evallint.runtime.batchnorm import BatchNormPasses
from evallint.runtime.dataflow import OutputFlow
from evallint.runtime.module_facts import ModuleFacts
from evallint.runtime.stack import UserStack

# Tensors of one module output that get a gradient probe; a model returning a
# long list of tensors needs only a few probes to tell whether it was trained.
MAX_PROBED_OUTPUTS = 4


def _is_compiling(torch):
    """``torch.compiler.is_compiling`` (torch 2.3 on), or dynamo's own before it."""
    compiler = getattr(torch, "compiler", None)
    if compiler is not None and hasattr(compiler, "is_compiling"):
        return compiler.is_compiling
    from torch import _dynamo

    return _dynamo.is_compiling


class _ThreadState(threading.local):
    """Per thread: inside a model call or not, and inside ``train()`` or not; each thread
    starts at zero (``__init__`` runs once per thread)."""

    def __init__(self) -> None:
        self.in_call = False
        self.mode_depth = 0


class Probes:
    """All probe state for one process; ``install()`` wires it into torch.

    ``writer`` is anything with ``write(record)``: a ``RecordWriter`` for
    ``evallint verify`` (records cross a process boundary), or an in-process
    recorder (``runtime.live``) for the pytest plugin and the guard.
    ``after_training``, when given, is called with no arguments once a
    ``backward()`` has returned and once an optimizer step is done: the moments
    at which every forward before them is settled (trained or not). It is
    called outside the probes' error handling, so what it raises (a warning
    the user's filters turned into an error) reaches the script.
    """

    def __init__(self, writer, after_training=None, lean: bool = False) -> None:
        import torch

        self.torch = torch
        self.writer = writer
        self.after_training = after_training
        # Lean probes, the guard's, for long runs: what they skip changes no
        # finding, only what evidence explains. A call of a plain-function module
        # (``ModuleFacts.is_plain_function``) is followed by the output-flow probe
        # as torch operations are, instead of being recorded as a model call
        # (nothing the guard warns about concerns such a module); BatchNorm drift
        # is measured lean (``batchnorm``). ``verify`` records everything, to
        # explain each finding fully.
        self.lean = lean
        self.stack = UserStack(torch)
        self.facts = ModuleFacts(torch)
        self.batchnorm = BatchNormPasses(torch, writer, self.facts, lean=lean)
        self._sigs: dict[tuple, int] = {}
        self._sig_ids = itertools.count(1)
        self._seq = itertools.count(1)
        # The modules called as models, by id (their weak references drop out with them): read
        # at every optimizer step, so kept cheaper to walk than a WeakSet.
        self._top_modules: dict[int, weakref.ref] = {}
        # Bumped whenever what a step record lists can change: a module first called as a
        # model (or gone), a train()/eval() call. Lean probes reuse a step's list while it holds.
        self._top_version = 0
        self._mode_version = 0
        self._optimizer_params: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        # Forward signatures whose output was backpropagated at least once (lean probes).
        self._backpropagated_sigs: set = set()
        self.flow: OutputFlow | None = None
        self._tls = _ThreadState()
        self._reported_internal = False
        self.backward_count = 0
        self.step_count = 0
        self._handles: list = []
        self._saved: list = []

    # ---- installation -------------------------------------------------------

    def install(self) -> None:
        torch = self.torch
        from torch.optim import optimizer as optimizer_mod

        self._install_call_probe()
        self._handles.append(optimizer_mod.register_optimizer_step_pre_hook(self._step_pre))
        self._handles.append(optimizer_mod.register_optimizer_step_post_hook(self._step_post))
        self._install_load_probes()
        self.flow = OutputFlow(torch, self._on_fed, self._internal_error)
        self.flow.install()
        after_training = self.after_training
        if after_training is not None:
            self._handles.append(optimizer_mod.register_optimizer_step_post_hook(
                lambda optimizer, args, kwargs: after_training()
            ))

        original_backward = torch.autograd.backward
        probes = self

        def backward(*args, **kwargs):
            probes._on_backward()
            # The mode has nothing to follow into a backward whose sources all died.
            probes.flow.settle()
            result = original_backward(*args, **kwargs)
            if after_training is not None:
                after_training()
            return result

        backward.__wrapped__ = original_backward  # type: ignore[attr-defined]
        # Tensor.backward looks torch.autograd.backward up at call time, so one
        # wrapper sees both spellings.
        torch.autograd.backward = backward
        self._saved.append((torch.autograd, "backward", original_backward))

        original_train = torch.nn.Module.train

        def train(module, mode=True):
            state = probes._thread_state()
            probes._mode_version += 1
            if state.mode_depth == 0:
                probes._on_mode_switch(module, mode)
            state.mode_depth += 1
            try:
                return original_train(module, mode)
            finally:
                state.mode_depth -= 1

        train.__wrapped__ = original_train  # type: ignore[attr-defined]
        torch.nn.Module.train = train
        self._saved.append((torch.nn.Module, "train", original_train))
        self._install_zero_grad_probes()

    def _install_call_probe(self) -> None:
        """Wrap ``Module.__call__``: an outermost model call is recorded, a call inside
        one goes straight to torch.

        Global module hooks would see every call too, but they take every
        submodule call off torch's fast path. Under ``torch.compile`` tracing
        the wrapper is plain torch's (``is_compiling`` is a constant there), so
        nothing of it enters a compiled graph.
        """
        torch = self.torch
        original_call = torch.nn.Module.__call__
        is_compiling = _is_compiling(torch)
        probes = self
        state = self._tls
        facts = self.facts
        lean = self.lean

        def __call__(module, *args, **kwargs):
            if state.in_call or is_compiling() or (lean and facts.is_plain_function(module)):
                # A plain-function module in lean probes: followed as a torch operation.
                return original_call(module, *args, **kwargs)
            call = probes._enter_call(module, args)
            output = None
            try:
                output = original_call(module, *args, **kwargs)
                return output
            except BaseException as exc:
                if not isinstance(exc, Exception):
                    call = None  # cut short by a stop (the verifier's, Ctrl-C): it had no output
                raise
            finally:
                probes._exit_call(call, output)

        __call__.__wrapped__ = original_call  # type: ignore[attr-defined]
        torch.nn.Module.__call__ = __call__
        self._saved.append((torch.nn.Module, "__call__", original_call))

    def _install_zero_grad_probes(self) -> None:
        """Zeroing gradients reads no model output: the flow probe sits it out,
        which spares its mode two calls per parameter."""
        torch = self.torch
        flow = self.flow
        for owner in (torch.optim.Optimizer, torch.nn.Module):
            original = owner.zero_grad

            def zero_grad(*args, _original=original, **kwargs):
                flow.suspend()
                try:
                    return _original(*args, **kwargs)
                finally:
                    flow.resume()

            zero_grad.__wrapped__ = original  # type: ignore[attr-defined]
            owner.zero_grad = zero_grad
            self._saved.append((owner, "zero_grad", original))

    def _install_load_probes(self) -> None:
        """Mark modules whose weights were loaded: ``load_state_dict`` (through
        ``_load_from_state_dict``, which also Hugging Face's loader calls per
        module) and whole models from ``torch.load`` / ``torch.jit.load``."""
        torch = self.torch
        probes = self
        original_load_from = torch.nn.Module._load_from_state_dict

        def _load_from_state_dict(module, *args, **kwargs):
            probes._mark_loaded(module)
            return original_load_from(module, *args, **kwargs)

        _load_from_state_dict.__wrapped__ = original_load_from  # type: ignore[attr-defined]
        torch.nn.Module._load_from_state_dict = _load_from_state_dict
        self._saved.append((torch.nn.Module, "_load_from_state_dict", original_load_from))

        for owner in (torch, torch.jit):
            original = owner.load

            def load(*args, _original=original, **kwargs):
                result = _original(*args, **kwargs)
                probes._mark_loaded_result(result)
                return result

            load.__wrapped__ = original  # type: ignore[attr-defined]
            owner.load = load
            self._saved.append((owner, "load", original))

    def uninstall(self) -> None:
        if self.flow is not None:
            self.flow.uninstall()
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        for owner, name, value in reversed(self._saved):
            setattr(owner, name, value)
        self._saved.clear()

    # ---- helpers --------------------------------------------------------------

    def _thread_state(self):
        return self._tls

    def _internal_error(self, exc: BaseException) -> None:
        # One report is enough to explain missing evidence; the script goes on.
        if not self._reported_internal:
            self._reported_internal = True
            try:
                self.writer.write({"t": "internal", "error": f"{type(exc).__name__}: {exc}"})
            except Exception:
                pass

    def user_location(self) -> tuple[str, int] | None:
        """(path, line) of the innermost frame of the caller's stack that is the user's code."""
        return self.stack.location()

    def _intern(self, kind: str, key: tuple, build) -> int:
        sig_id = self._sigs.get(key)
        if sig_id is None:
            sig_id = next(self._sig_ids)
            self._sigs[key] = sig_id
            record = build()
            record.update({"t": "sig", "id": sig_id, "kind": kind})
            self.writer.write(record)
        return sig_id

    # ---- trained and loaded modules --------------------------------------------

    def _mark_loaded(self, module) -> None:
        try:
            self.facts.mark_loaded(module)
        except Exception as exc:
            self._internal_error(exc)

    def _mark_loaded_result(self, result) -> None:
        try:
            self.facts.mark_loaded_result(result)
        except Exception as exc:
            self._internal_error(exc)

    # ---- forward --------------------------------------------------------------

    def _enter_call(self, module, args):
        self._tls.in_call = True
        if self.flow is not None:
            self.flow.suspend()
        try:
            return self._begin_call(module, args)
        except Exception as exc:  # a probe must never break the script
            self._internal_error(exc)
            return None

    def _begin_call(self, module, args):
        torch = self.torch
        if torch._C._current_graph_task_id() != -1:
            # Run by the autograd engine (activation checkpointing recomputes
            # forwards during backward): part of a backward, not a user's call.
            return None
        frames = self.stack.frames()
        if not frames:
            # Library-internal parallelism (DataParallel replicas run in
            # threads started by torch): the outer call was already recorded.
            return None
        if id(module) not in self._top_modules:
            self._add_top_module(module)
        serial = self.facts.serial(module)
        name, training = self.facts.describe(module)
        grad = torch.is_grad_enabled()
        inference = torch.is_inference_mode_enabled()
        active, inactive = self.facts.mode_summary(module)
        # (Only a forward that may train in eval mode asks which of its layers are frozen.)
        frozen = self.facts.frozen_part(module) if inactive and grad and not inference else ()
        trained_model = self.facts.trained_model(module)
        params = self.facts.has_parameters(module)
        key = ("forward", frames, serial, training, grad, inference, active, inactive, frozen,
               trained_model, params)
        sig = self._intern(
            "forward",
            key,
            lambda: {
                "frames": [list(f) for f in frames],
                "module": name,
                "m": serial,
                "training": training,
                "grad": grad,
                "inference": inference,
                "active": [list(a) for a in active],
                "inactive": [list(a) for a in inactive],
                "frozen": [list(a) for a in frozen],
                "trained_model": trained_model,
                "params": params,
            },
        )
        inputs = self.flow.sources_of(args) if self.flow is not None else frozenset()
        bn_pass = self.batchnorm.open(module, (sig, self.backward_count, self.step_count), sig)
        mem = None
        # is_initialized() alone: is_available() asks the driver on every call.
        if torch.cuda.is_initialized():
            mem = torch.cuda.memory_allocated()
        return (module, sig, next(self._seq), bn_pass, mem, inputs)

    def _exit_call(self, call, output) -> None:
        self._tls.in_call = False
        try:
            if call is not None:
                self._end_call(call, output)
        except Exception as exc:
            self._internal_error(exc)
        finally:
            if self.flow is not None:
                self.flow.resume()

    def _add_top_module(self, module) -> None:
        key = id(module)
        modules = self._top_modules

        def forget(ref, key=key, probes=self):
            if modules.get(key) is ref:
                del modules[key]
                probes._top_version += 1

        modules[key] = weakref.ref(module, forget)
        self._top_version += 1

    def _live_top_modules(self) -> list:
        found = []
        for ref in list(self._top_modules.values()):
            module = ref()
            if module is not None:
                found.append(module)
        return found

    def _end_call(self, call, output) -> None:
        module, sig, seq, bn_pass, mem_before, inputs = call
        graph_tensors, seen = self._graph_tensors(output)
        record = {"t": "f", "s": sig, "q": seq, "g": 1 if graph_tensors else 0}
        if not seen:
            # No tensor in an output of a type not followed here: where it goes is unknown.
            record["o"] = 1
        if mem_before is not None and graph_tensors:
            record["mem"] = self.torch.cuda.memory_allocated() - mem_before
        self.writer.write(record)
        if graph_tensors:
            fired = [False]
            writer = self.writer
            probes = self
            module_ref = weakref.ref(module)

            def on_gradient(_grad, seq=seq, fired=fired, bn_pass=bn_pass):
                if not fired[0]:
                    fired[0] = True
                    if bn_pass is not None:
                        bn_pass["trained"] = True
                    try:
                        probes._backpropagated_sigs.add(sig)
                        writer.write({"t": "bp", "q": seq})
                        trained = module_ref()
                        if trained is not None:
                            probes.facts.backpropagated(trained)
                        if inputs:
                            # The call's inputs came from other forwards: they fed training too.
                            probes._on_fed(inputs)
                    except Exception:
                        pass
                return None

            for tensor in graph_tensors:
                tensor.register_hook(on_gradient)
        if self.flow is None:
            return
        if self.lean and graph_tensors and sig in self._backpropagated_sigs:
            # A training call site: its outputs' own gradient probes decide their role (and
            # that of the forwards they came from), so the flow probe, whose mode would watch
            # every operation of the loss, need only follow the tensors without a graph.
            self.flow.model_output(output, seq, inputs, without_graph_only=True)
        else:
            self.flow.model_output(output, seq, inputs)

    def _graph_tensors(self, output) -> tuple[list, bool]:
        """(output tensors that carry a graph, whether any tensor was found at all).

        Breadth first, in order: the first entries of a tuple or dict output
        (a loss, the logits) are the ones a training step backpropagates.
        """
        tensor_type = self.torch.Tensor
        found = []
        seen = False
        pending = deque([output])
        visited = 0
        while pending and len(found) < MAX_PROBED_OUTPUTS and visited < 64:
            item = pending.popleft()
            visited += 1
            if isinstance(item, tensor_type):
                seen = True
                if item.grad_fn is not None:
                    found.append(item)
            elif isinstance(item, (list, tuple)):
                pending.extend(item[:16])
            elif isinstance(item, dict):
                pending.extend(list(item.values())[:16])
        return found, seen

    # ---- BatchNorm statistics -------------------------------------------------

    def close_open_passes(self) -> None:
        self.batchnorm.close_all(self._internal_error)

    # ---- backward, optimizer steps, mode switches -----------------------------

    def _on_fed(self, sources) -> None:
        try:
            for seq in sorted(sources):
                self.writer.write({"t": "fd", "q": seq})
        except Exception as exc:
            self._internal_error(exc)

    def _on_backward(self) -> None:
        try:
            frames = self.stack.frames()
            sig = self._intern(
                "backward", ("backward", frames), lambda: {"frames": [list(f) for f in frames]}
            )
            self.backward_count += 1
            self.writer.write({"t": "b", "s": sig})
        except Exception as exc:
            self._internal_error(exc)

    def _optimized_param_ids(self, optimizer) -> list:
        """[param-groups shape, ids of the optimized parameters, module -> whether it is
        optimized, the last step's trained list and the versions it was built at]."""
        groups = optimizer.param_groups
        shape = (len(groups), sum(len(g["params"]) for g in groups))
        cached = self._optimizer_params.get(optimizer)
        if cached is None or cached[0] != shape:
            ids = frozenset(id(p) for g in groups for p in g["params"])
            cached = [shape, ids, weakref.WeakKeyDictionary(), None, None]
            self._optimizer_params[optimizer] = cached
        return cached

    def _trained_by(self, optimizer) -> tuple:
        """(name, serial, training, active, inactive) of each called model this step updates.

        Lean probes reuse the previous step's list while no model was first called and no
        mode was switched since (modes are followed through ``train()`` / ``eval()``);
        ``verify`` reads every step afresh.
        """
        cached = self._optimized_param_ids(optimizer)
        versions = (self._top_version, self._mode_version)
        if self.lean and cached[4] == versions:
            return cached[3]
        _, param_ids, trains_module = cached[:3]
        trained = []
        for module in self._live_top_modules():
            hit = trains_module.get(module)
            if hit is None:
                hit = any(id(p) in param_ids for p in module.parameters())
                trains_module[module] = hit
            if hit:
                self.facts.mark_trained(module)
                active, inactive = self.facts.mode_summary(module)
                name, training = self.facts.describe(module)
                frozen = self.facts.frozen_part(module) if inactive else ()
                trained.append((name, self.facts.serial(module), training, active, inactive, frozen))
        trained.sort(key=lambda t: t[1])
        cached[3], cached[4] = tuple(trained), versions
        return cached[3]

    def _step_pre(self, optimizer, args, kwargs):
        # An update reads no model output: the flow probe sits the step out.
        if self.flow is not None:
            self.flow.suspend()
        try:
            self.step_count += 1
            trained = self._trained_by(optimizer)
            frames = self.stack.frames()
            key = ("step", frames, type(optimizer).__name__, trained)
            sig = self._intern(
                "step",
                key,
                lambda: {
                    "frames": [list(f) for f in frames],
                    "optimizer": type(optimizer).__name__,
                    "trained": [
                        {"module": c, "m": s, "training": t,
                         "active": [list(a) for a in act], "inactive": [list(i) for i in ina],
                         "frozen": [list(f) for f in fro]}
                        for c, s, t, act, ina, fro in trained
                    ],
                },
            )
            self.writer.write({"t": "st", "s": sig})
        except Exception as exc:
            self._internal_error(exc)
        return None

    def _step_post(self, optimizer, args, kwargs):
        if self.flow is not None:
            self.flow.resume()
        return None

    def _on_mode_switch(self, module, mode) -> None:
        try:
            frames = self.stack.frames()
            if not frames:
                return
            serial = self.facts.serial(module)
            # The modules whose calls this switch changes: itself and every
            # called model that contains it (model.module.eval() on a DDP wrapper).
            affects = sorted(
                {serial}
                | {
                    self.facts.serial(top)
                    for top in self._live_top_modules()
                    if top is module or any(sub is module for sub in top.modules())
                }
            )
            mode = bool(mode)
            key = ("mode", frames, serial, mode, tuple(affects))
            sig = self._intern(
                "mode",
                key,
                lambda: {
                    "frames": [list(f) for f in frames],
                    "module": type(module).__name__,
                    "m": serial,
                    "mode": mode,
                    "affects": affects,
                },
            )
            self.writer.write({"t": "mo", "s": sig})
        except Exception as exc:
            self._internal_error(exc)
