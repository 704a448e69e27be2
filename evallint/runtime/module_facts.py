"""What the probes know about each model they see: identity, mode, trained or not.

Facts are kept per module in weak dictionaries (a model that is deleted takes
its facts with it) and computed once where they cannot change: the serial
number, the mode-dependent layers (``roles``), whether it holds parameters.
"""

from __future__ import annotations

import itertools
import weakref
from collections import Counter

from evallint.runtime import roles

# A model whose layers are toggled one by one keeps adding flag sets.
MAX_MODE_SUMMARIES = 64


class ModuleFacts:
    def __init__(self, torch) -> None:
        self.torch = torch
        self._summaries: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._serials: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._serial_ids = itertools.count(1)
        self._layers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        # Modules trained (stepped or backpropagated) or loaded so far: their
        # later forwards that reach no backward are evaluation (``roles``).
        self._trained_modules: weakref.WeakSet = weakref.WeakSet()
        self._loaded_modules: weakref.WeakSet = weakref.WeakSet()
        self._trained_version = 0
        self._trained_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._parameter_holders: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def serial(self, module) -> int:
        serial = self._serials.get(module)
        if serial is None:
            serial = next(self._serial_ids)
            self._serials[module] = serial
        return serial

    def sensitive_layers(self, module) -> list:
        """(layer, description, tracks_running_stats) for the layers whose output depends on mode."""
        cached = self._layers.get(module)
        if cached is None:
            cached = roles.mode_dependent_layers(module, self.torch.nn)
            self._layers[module] = cached
        return cached

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
        cached = self._parameter_holders.get(module)
        if cached is None:
            cached = any(True for _ in module.parameters())
            self._parameter_holders[module] = cached
        return cached

    def backpropagated(self, module) -> None:
        """A forward of ``module`` was backpropagated: it is trained if gradient reaches its weights."""
        if module not in self._trained_modules and any(
            p.requires_grad for p in module.parameters()
        ):
            self.mark_trained(module)

    def trained_model(self, module) -> bool:
        """Whether ``module`` was trained or loaded before now (``roles``: evaluation needs a trained model)."""
        cached = self._trained_cache.get(module)
        if cached is not None and cached[0] == self._trained_version:
            return cached[1]
        owner = self.mode_owner(module)
        trained = module in self._trained_modules or owner in self._trained_modules
        if not trained and len(self._loaded_modules):
            trained = any(sub in self._loaded_modules for sub in module.modules())
        self._trained_cache[module] = (self._trained_version, trained)
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
        layers = self.sensitive_layers(module)
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
