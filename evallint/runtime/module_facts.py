"""What the probes know about each model they see: identity, mode, trained or not.

Facts are kept per module in one record (a model that is deleted takes its
record with it) and computed once where they cannot change: the serial
number, the mode-dependent layers (``roles``), whether it holds parameters.
"""

from __future__ import annotations

import itertools
import weakref
from collections import Counter

from evallint.runtime import roles

# A model whose layers are toggled one by one keeps adding flag sets.
MAX_MODE_SUMMARIES = 64


class _Record:
    """What is kept about one module: one lookup per call instead of one per fact."""

    __slots__ = ("ref", "serial", "layers", "params", "summaries", "trained", "extra")

    def __init__(self, ref, serial: int) -> None:
        self.ref = ref
        self.serial = serial
        self.layers: list | None = None
        self.params: bool | None = None
        self.summaries: dict = {}
        self.trained: tuple | None = None  # (trained version, trained or loaded)
        self.extra: dict = {}  # other probes' per-module facts (``batchnorm``'s tracked layers)


class ModuleFacts:
    def __init__(self, torch) -> None:
        self.torch = torch
        # id(module) -> _Record; a record leaves with its module (weak reference callback).
        self._records: dict[int, _Record] = {}
        self._serial_ids = itertools.count(1)
        # Modules trained (stepped or backpropagated) or loaded so far: their
        # later forwards that reach no backward are evaluation (``roles``).
        self._trained_modules: weakref.WeakSet = weakref.WeakSet()
        self._loaded_modules: weakref.WeakSet = weakref.WeakSet()
        self._trained_version = 0

    def record(self, module) -> _Record:
        key = id(module)
        found = self._records.get(key)
        if found is not None and found.ref() is module:
            return found
        records = self._records

        def forget(ref, key=key):
            if records.get(key) is not None and records[key].ref is ref:
                del records[key]

        found = records[key] = _Record(weakref.ref(module, forget), next(self._serial_ids))
        return found

    def serial(self, module) -> int:
        return self.record(module).serial

    def sensitive_layers(self, module) -> list:
        """(layer, description, tracks_running_stats) for the layers whose output depends on mode."""
        record = self.record(module)
        if record.layers is None:
            record.layers = roles.mode_dependent_layers(module, self.torch.nn)
        return record.layers

    def is_plain_function(self, module) -> bool:
        """No parameters and no mode-dependent layer (a loss, an activation, a pooling): a
        function of its inputs, never a model (``roles``) whatever its mode or grad."""
        return not self.has_parameters(module) and not self.sensitive_layers(module)

    # ---- trained and loaded modules --------------------------------------------

    def mark_trained(self, module) -> None:
        if module not in self._trained_modules:
            # Its submodules are trained with it: `model.decoder(z)` evaluates a trained decoder.
            self._trained_modules.update(module.modules())
            self._trained_version += 1

    def mark_loaded(self, module) -> None:
        if module not in self._loaded_modules:
            self._loaded_modules.add(module)
            self._trained_version += 1

    def mark_loaded_result(self, result) -> None:
        module_type = self.torch.nn.Module
        values = result.values() if isinstance(result, dict) else [result]
        for value in list(values)[:64]:
            if isinstance(value, module_type):
                self.mark_loaded(value)

    def has_parameters(self, module) -> bool:
        """Whether ``module`` holds parameters at all (a loss module holds none)."""
        record = self.record(module)
        if record.params is None:
            record.params = any(True for _ in module.parameters())
        return record.params

    def backpropagated(self, module) -> None:
        """A forward of ``module`` was backpropagated: it is trained if gradient reaches its weights."""
        if module not in self._trained_modules and any(
            p.requires_grad for p in module.parameters()
        ):
            self.mark_trained(module)

    def trained_model(self, module) -> bool:
        """Whether ``module`` was trained or loaded before now (``roles``: evaluation needs a trained model)."""
        record = self.record(module)
        cached = record.trained
        if cached is not None and cached[0] == self._trained_version:
            return cached[1]
        owner = self.mode_owner(module)
        trained = module in self._trained_modules or owner in self._trained_modules
        if not trained and len(self._loaded_modules):
            trained = any(sub in self._loaded_modules for sub in module.modules())
        record.trained = (self._trained_version, trained)
        return trained

    # ---- mode -------------------------------------------------------------------

    def mode_owner(self, module):
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

    def describe(self, module) -> tuple[str, bool]:
        owner = self.mode_owner(module)
        name = type(module).__name__
        if owner is not module:
            name = f"{name}({type(owner).__name__})"
        return name, bool(owner.training)

    def mode_summary(self, module) -> tuple[tuple, tuple]:
        """(active, inactive) mode-sensitive layers, as sorted (description, count) pairs.

        Kept per module for each combination of its layers' ``training``
        flags (a model has few: all train, all eval, a frozen part), so a
        forward reads the flags and looks the summary up.
        """
        record = self.record(module)
        layers = record.layers if record.layers is not None else self.sensitive_layers(module)
        flags = tuple([layer.training for layer, _, _ in layers])
        summaries = record.summaries
        if len(summaries) > MAX_MODE_SUMMARIES:
            summaries = record.summaries = {}
        summary = summaries.get(flags)
        if summary is None:
            active: Counter = Counter()
            inactive: Counter = Counter()
            for (_, description, _), training in zip(layers, flags):
                (active if training else inactive)[description] += 1
            summary = summaries[flags] = (tuple(sorted(active.items())),
                                          tuple(sorted(inactive.items())))
        return summary

    def frozen_part(self, module) -> tuple:
        """The eval-mode layers of ``mode_summary`` that sit in a frozen part of ``module``, as
        sorted (description, count) pairs: a layer none of whose own parameters requires grad, or,
        for a layer that holds none (Dropout), whose parent's do not. A linear probe keeps such a
        backbone in eval mode on purpose; the training step trains the rest.

        Read only for a model in eval mode with autograd on; kept per combination of layer flags
        and count of trainable parameters, so unfreezing the backbone is seen."""
        record = self.record(module)
        layers = record.layers if record.layers is not None else self.sensitive_layers(module)
        flags = tuple([layer.training for layer, _, _ in layers])
        key = (flags, sum(1 for p in module.parameters() if p.requires_grad))
        cached = record.extra.get("frozen_part")
        if cached is not None and cached[0] == key:
            return cached[1]
        parents = {id(child): parent for parent in module.modules() for child in parent.children()}
        frozen: Counter = Counter()
        for (layer, description, _), training in zip(layers, flags):
            owner = layer if any(True for _ in layer.parameters()) else parents.get(id(layer), module)
            if not training and not any(p.requires_grad for p in owner.parameters()):
                frozen[description] += 1
        found = tuple(sorted(frozen.items()))
        record.extra["frozen_part"] = (key, found)
        return found
