"""Probes installed inside the verified script's process.

They observe, they never change what the script computes: every probe catches
its own errors, returns ``None`` to torch, and writes what it saw as JSON lines
to a file descriptor with one ``os.write`` per record. Unbuffered writes are
the point: a script that calls ``os._exit``, is killed by the timeout or by the
kernel's OOM killer still leaves every record written before it died.

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

In a forked process every record carries ``p`` (its pid) so that ids stay
distinct.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import sysconfig
import threading
import weakref
from collections import Counter, deque

from evallint.runtime import roles
from evallint.runtime.dataflow import OutputFlow

MAX_USER_FRAMES = 8
# Tensors of one module output that get a gradient probe; a model returning a
# long list of tensors needs only a few probes to tell whether it was trained.
MAX_PROBED_OUTPUTS = 4
# Bounds on the probes' lookup caches (code generated at runtime keeps adding
# new frames; a model whose layers are toggled one by one, new flag sets).
MAX_CACHED_FRAMES = 1 << 16
MAX_MODE_SUMMARIES = 64
_UNSEEN = object()


class RecordWriter:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pid_tag: int | None = None
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self.pid_tag = os.getpid()
        self._lock = threading.Lock()

    def write(self, record: dict) -> None:
        if self.pid_tag is not None:
            record["p"] = self.pid_tag
        data = (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode()
        with self._lock:
            view = memoryview(data)
            while view:
                written = os.write(self.fd, view)
                view = view[written:]


def _function_name(code) -> str:
    """The user's function a code object belongs to: a comprehension, generator
    expression or lambda is named after the function that contains it."""
    name = code.co_name
    if not name.startswith("<") or name == "<module>":
        return name
    qualname = getattr(code, "co_qualname", None)  # Python 3.11+
    if qualname is None:
        return name
    named = [part for part in qualname.split(".") if not part.startswith("<")]
    return named[-1] if named else "<module>"


def _internal_prefixes() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(always internal, internal unless site-packages, site-packages) directory prefixes.

    torch and evallint frames are never the user's; the stdlib's are not either,
    but site-packages usually lives inside the stdlib directory and holds
    libraries (Lightning, transformers) whose frames a finding may point into.
    """
    import torch

    evallint_dir = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    always = (
        os.path.dirname(os.path.realpath(torch.__file__)) + os.sep,
        evallint_dir + os.sep,
    )
    paths = sysconfig.get_paths()
    site = tuple(
        {os.path.realpath(paths[k]) + os.sep for k in ("purelib", "platlib") if k in paths}
    )
    return always, (os.path.realpath(paths["stdlib"]) + os.sep,), site


class _ThreadState(threading.local):
    """Per-thread call depth; each thread starts at zero (``__init__`` runs once per thread)."""

    def __init__(self) -> None:
        self.depth = 0
        self.mode_depth = 0
        self.step_suspended: list = []
        self.calls: list = []


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

    def __init__(self, writer, after_training=None) -> None:
        import torch

        self.torch = torch
        self.writer = writer
        self.after_training = after_training
        self.internal_prefixes, self.stdlib_prefixes, self.site_prefixes = _internal_prefixes()
        self._file_cache: dict[str, str | None] = {}
        self._frame_cache: dict[tuple, tuple | None] = {}
        self._summaries: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._sigs: dict[tuple, int] = {}
        self._sig_ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._serials: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._serial_ids = itertools.count(1)
        self._layers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._top_modules: weakref.WeakSet = weakref.WeakSet()
        self._optimizer_params: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._bn_passes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        # Modules trained (stepped or backpropagated) or loaded so far: their
        # later forwards that reach no backward are evaluation (``roles``).
        self._trained_modules: weakref.WeakSet = weakref.WeakSet()
        self._loaded_modules: weakref.WeakSet = weakref.WeakSet()
        self._trained_version = 0
        self._trained_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._parameter_holders: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
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
        from torch.nn.modules import module as module_mod
        from torch.optim import optimizer as optimizer_mod

        self._handles.append(module_mod.register_module_forward_pre_hook(self._forward_pre))
        # always_call: the post hook must run when forward raises, or the
        # outermost-call depth would stay raised and hide every later call.
        self._handles.append(
            module_mod.register_module_forward_hook(self._forward_post, always_call=True)
        )
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

    def _user_path(self, filename: str) -> str | None:
        cached = self._file_cache.get(filename, False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        if filename.startswith("<"):
            result = None
        else:
            real = os.path.realpath(filename)
            internal = real.startswith(self.internal_prefixes) or (
                real.startswith(self.stdlib_prefixes) and not real.startswith(self.site_prefixes)
            )
            result = None if internal else real
        self._file_cache[filename] = result
        return result

    def user_location(self) -> tuple[str, int] | None:
        """(path, line) of the innermost frame of the caller's stack that is the user's code."""
        frame = sys._getframe(1)
        while frame is not None:
            path = self._user_path(frame.f_code.co_filename)
            if path is not None:
                return path, frame.f_lineno
            frame = frame.f_back
        return None

    @staticmethod
    def _position(code, lasti: int) -> tuple:
        try:
            positions = list(code.co_positions())
            index = lasti // 2
            if 0 <= index < len(positions):
                _, end_line, col, end_col = positions[index]
                if col is not None:
                    return (col + 1, end_line, (end_col or col) + 1)
        except Exception:
            pass
        return (None, None, None)

    def _frame_entry(self, frame) -> tuple | None:
        code = frame.f_code
        path = self._user_path(code.co_filename)
        if path is None:
            return None
        col, end_line, end_col = self._position(code, frame.f_lasti)
        return (path, frame.f_lineno, _function_name(code), col, end_line, end_col)

    def _user_frames(self) -> tuple:
        """The user's frames on the stack, innermost first: (path, line, function, column, end line, end column).

        This runs on every outermost forward, backward and optimizer step. A
        frame's entry depends only on its code and the instruction it is at,
        so it is built once per (code, instruction) and looked up after.
        """
        frames = []
        cache = self._frame_cache
        frame = sys._getframe(2)
        while frame is not None:
            key = (frame.f_code, frame.f_lasti)
            entry = cache.get(key, _UNSEEN)
            if entry is _UNSEEN:
                if len(cache) >= MAX_CACHED_FRAMES:
                    cache.clear()
                entry = cache[key] = self._frame_entry(frame)
            if entry is not None:
                frames.append(entry)
                if len(frames) == MAX_USER_FRAMES:
                    break
            frame = frame.f_back
        return tuple(frames)

    def _intern(self, kind: str, key: tuple, build) -> int:
        sig_id = self._sigs.get(key)
        if sig_id is None:
            sig_id = next(self._sig_ids)
            self._sigs[key] = sig_id
            record = build()
            record.update({"t": "sig", "id": sig_id, "kind": kind})
            self.writer.write(record)
        return sig_id

    def _serial(self, module) -> int:
        serial = self._serials.get(module)
        if serial is None:
            serial = next(self._serial_ids)
            self._serials[module] = serial
        return serial

    def _sensitive_layers(self, module) -> list:
        """(layer, description, tracks_running_stats) for the layers whose output depends on mode."""
        cached = self._layers.get(module)
        if cached is None:
            cached = roles.mode_dependent_layers(module, self.torch.nn)
            self._layers[module] = cached
        return cached

    # ---- trained and loaded modules --------------------------------------------

    def _mark_trained(self, module) -> None:
        if module not in self._trained_modules:
            # Its submodules are trained with it: `model.decoder(z)` evaluates a trained decoder.
            self._trained_modules.update(module.modules())
            self._trained_version += 1

    def _mark_loaded(self, module) -> None:
        try:
            if module not in self._loaded_modules:
                self._loaded_modules.add(module)
                self._trained_version += 1
        except Exception as exc:
            self._internal_error(exc)

    def _mark_loaded_result(self, result) -> None:
        try:
            module_type = self.torch.nn.Module
            values = result.values() if isinstance(result, dict) else [result]
            for value in list(values)[:64]:
                if isinstance(value, module_type):
                    self._mark_loaded(value)
        except Exception as exc:
            self._internal_error(exc)

    def _has_parameters(self, module) -> bool:
        """Whether ``module`` holds parameters at all (a loss module holds none)."""
        cached = self._parameter_holders.get(module)
        if cached is None:
            cached = any(True for _ in module.parameters())
            self._parameter_holders[module] = cached
        return cached

    def _backpropagated(self, module) -> None:
        """A forward of ``module`` was backpropagated: it is trained if gradient reaches its weights."""
        if module not in self._trained_modules and any(
            p.requires_grad for p in module.parameters()
        ):
            self._mark_trained(module)

    def _trained_model(self, module) -> bool:
        """Whether ``module`` was trained or loaded before now (``roles``: evaluation needs a trained model)."""
        cached = self._trained_cache.get(module)
        if cached is not None and cached[0] == self._trained_version:
            return cached[1]
        owner = self._mode_owner(module)
        trained = module in self._trained_modules or owner in self._trained_modules
        if not trained and len(self._loaded_modules):
            trained = any(sub in self._loaded_modules for sub in module.modules())
        self._trained_cache[module] = (self._trained_version, trained)
        return trained

    def _mode_owner(self, module):
        """The module whose ``training`` flag decides a wrapper's behaviour.

        ``DataParallel`` / ``DistributedDataParallel`` (``.module``) and
        ``torch.compile`` (``._orig_mod``) wrap one network; ``model.module.eval()``
        switches that network and leaves the wrapper's own flag at True.
        """
        owner = module
        for _ in range(4):
            if len(owner._modules) != 1:
                break
            inner = owner._modules.get("module") or owner._modules.get("_orig_mod")
            if inner is None:
                break
            owner = inner
        return owner

    def _describe(self, module) -> tuple[str, bool]:
        owner = self._mode_owner(module)
        name = type(module).__name__
        if owner is not module:
            name = f"{name}({type(owner).__name__})"
        return name, bool(owner.training)

    def _mode_summary(self, module) -> tuple[tuple, tuple]:
        """(active, inactive) mode-sensitive layers, as sorted (description, count) pairs.

        Kept per module for each combination of its layers' ``training``
        flags (a model has few: all train, all eval, a frozen part), so a
        forward reads the flags and looks the summary up.
        """
        layers = self._sensitive_layers(module)
        flags = tuple([layer.training for layer, _, _ in layers])
        summaries = self._summaries.get(module)
        if summaries is None or len(summaries) > MAX_MODE_SUMMARIES:
            summaries = self._summaries[module] = {}
        summary = summaries.get(flags)
        if summary is None:
            active: Counter = Counter()
            inactive: Counter = Counter()
            for (_, description, _), training in zip(layers, flags):
                (active if training else inactive)[description] += 1
            summary = summaries[flags] = (tuple(sorted(active.items())),
                                          tuple(sorted(inactive.items())))
        return summary

    # ---- forward --------------------------------------------------------------

    def _forward_pre(self, module, args):
        state = self._tls
        if state.depth:
            state.depth += 1
            return None
        state.depth = 1
        suspended = self.flow.suspend() if self.flow is not None else False
        try:
            call = self._begin_call(module, args)
        except Exception as exc:  # a probe must never break the script
            self._internal_error(exc)
            call = None
        state.calls.append((call, suspended))
        return None

    def _begin_call(self, module, args):
        torch = self.torch
        if torch._C._current_graph_task_id() != -1:
            # Run by the autograd engine (activation checkpointing recomputes
            # forwards during backward): part of a backward, not a user's call.
            return None
        frames = self._user_frames()
        if not frames:
            # Library-internal parallelism (DataParallel replicas run in
            # threads started by torch): the outer call was already recorded.
            return None
        self._top_modules.add(module)
        serial = self._serial(module)
        name, training = self._describe(module)
        grad = torch.is_grad_enabled()
        inference = torch.is_inference_mode_enabled()
        active, inactive = self._mode_summary(module)
        trained_model = self._trained_model(module)
        params = self._has_parameters(module)
        key = ("forward", frames, serial, training, grad, inference, active, inactive,
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
                "trained_model": trained_model,
                "params": params,
            },
        )
        inputs = self.flow.sources_of(args) if self.flow is not None else frozenset()
        bn_pass = self._bn_pass(module, frames[0][:2], sig)
        mem = None
        # is_initialized() alone: is_available() asks the driver on every call.
        if torch.cuda.is_initialized():
            mem = torch.cuda.memory_allocated()
        return (module, sig, next(self._seq), bn_pass, mem, inputs)

    def _forward_post(self, module, args, output):
        state = self._tls
        if state.depth > 1:
            state.depth -= 1
            return None
        if state.depth == 0:
            return None
        state.depth = 0
        call, suspended = state.calls.pop() if state.calls else (None, False)
        try:
            if call is not None:
                self._end_call(call, output)
        except Exception as exc:
            self._internal_error(exc)
        finally:
            if self.flow is not None:
                self.flow.resume(suspended)
        return None

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
                        writer.write({"t": "bp", "q": seq})
                        trained = module_ref()
                        if trained is not None:
                            probes._backpropagated(trained)
                        if inputs:
                            # The call's inputs came from other forwards: they fed training too.
                            probes._on_fed(inputs)
                    except Exception:
                        pass
                return None

            for tensor in graph_tensors:
                tensor.register_hook(on_gradient)
        if self.flow is not None:
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

    def _bn_pass(self, module, site: tuple, sig: int):
        """Open (or continue) the running-statistics pass this call belongs to.

        A pass is the run of calls of one module from one call site with no
        backward or optimizer step in between: a validation loop is one pass,
        each training step is its own. Its drift is measured once, when the
        pass ends, so there is no device synchronisation per call.
        """
        tracked = [
            (layer, desc)
            for layer, desc, tracks in self._sensitive_layers(module)
            if tracks and layer.running_mean is not None
        ]
        current = self._bn_passes.get(module)
        moving = any(layer.training for layer, _ in tracked)
        key = (site, self.backward_count, self.step_count)
        if current is not None and (not moving or current["key"] != key):
            self._close_bn_pass(module)
            current = None
        if not moving:
            return None
        if current is None:
            current = {
                "key": key,
                "sig": sig,
                "calls": 0,
                "trained": False,
                "snapshots": [
                    (layer, desc, layer.running_mean.detach().clone()) for layer, desc in tracked
                ],
            }
            self._bn_passes[module] = current
        current["calls"] += 1
        return current

    def _close_bn_pass(self, module) -> None:
        current = self._bn_passes.pop(module, None)
        # A pass whose outputs were backpropagated is training: its statistics
        # are meant to move, and measuring them would cost a sync per step.
        if current is None or current["trained"]:
            return
        torch = self.torch
        drifts = []
        for layer, desc, snapshot in current["snapshots"]:
            if layer.running_mean is None or layer.running_mean.shape != snapshot.shape:
                continue
            drifts.append((desc, (layer.running_mean.detach() - snapshot).abs().max()))
        if not drifts:
            return
        values = torch.stack([d.float().cpu() if d.is_cuda else d.float() for _, d in drifts])
        index = int(values.argmax())
        self.writer.write(
            {
                "t": "bn",
                "s": current["sig"],
                "calls": current["calls"],
                "drift": float(values[index]),
                "layer": drifts[index][0],
            }
        )

    def close_open_passes(self) -> None:
        for module in list(self._bn_passes.keys()):
            try:
                self._close_bn_pass(module)
            except Exception as exc:
                self._internal_error(exc)

    # ---- backward, optimizer steps, mode switches -----------------------------

    def _on_fed(self, sources) -> None:
        try:
            for seq in sorted(sources):
                self.writer.write({"t": "fd", "q": seq})
        except Exception as exc:
            self._internal_error(exc)

    def _on_backward(self) -> None:
        try:
            frames = self._user_frames()
            sig = self._intern(
                "backward", ("backward", frames), lambda: {"frames": [list(f) for f in frames]}
            )
            self.backward_count += 1
            self.writer.write({"t": "b", "s": sig})
        except Exception as exc:
            self._internal_error(exc)

    def _optimized_param_ids(self, optimizer) -> frozenset:
        groups = optimizer.param_groups
        shape = (len(groups), sum(len(g["params"]) for g in groups))
        cached = self._optimizer_params.get(optimizer)
        if cached is None or cached[0] != shape:
            ids = frozenset(id(p) for g in groups for p in g["params"])
            cached = (shape, ids, weakref.WeakKeyDictionary())
            self._optimizer_params[optimizer] = cached
        return cached

    def _step_pre(self, optimizer, args, kwargs):
        # An update reads no model output: the flow probe sits the step out.
        if self.flow is not None:
            self._thread_state().step_suspended.append(self.flow.suspend())
        try:
            self.step_count += 1
            _, param_ids, trains_module = self._optimized_param_ids(optimizer)
            trained = []
            for module in list(self._top_modules):
                hit = trains_module.get(module)
                if hit is None:
                    hit = any(id(p) in param_ids for p in module.parameters())
                    trains_module[module] = hit
                if hit:
                    self._mark_trained(module)
                    active, inactive = self._mode_summary(module)
                    name, training = self._describe(module)
                    trained.append((name, self._serial(module), training, active, inactive))
            trained.sort(key=lambda t: t[1])
            frames = self._user_frames()
            key = ("step", frames, type(optimizer).__name__, tuple(trained))
            sig = self._intern(
                "step",
                key,
                lambda: {
                    "frames": [list(f) for f in frames],
                    "optimizer": type(optimizer).__name__,
                    "trained": [
                        {"module": c, "m": s, "training": t,
                         "active": [list(a) for a in act], "inactive": [list(i) for i in ina]}
                        for c, s, t, act, ina in trained
                    ],
                },
            )
            self.writer.write({"t": "st", "s": sig})
        except Exception as exc:
            self._internal_error(exc)
        return None

    def _step_post(self, optimizer, args, kwargs):
        suspended = self._thread_state().step_suspended
        if self.flow is not None and suspended:
            self.flow.resume(suspended.pop())
        return None

    def _on_mode_switch(self, module, mode) -> None:
        try:
            frames = self._user_frames()
            if not frames:
                return
            serial = self._serial(module)
            # The modules whose calls this switch changes: itself and every
            # called model that contains it (model.module.eval() on a DDP wrapper).
            affects = sorted(
                {serial}
                | {
                    self._serial(top)
                    for top in list(self._top_modules)
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
