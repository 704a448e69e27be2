"""BatchNorm running statistics: how far one pass of a model moved them.

A pass is the run of calls of one module with one signature (call site, mode,
grad) and no backward or optimizer step in between: a validation loop is one
pass, each training step is its own. Its drift is measured once, when the pass ends, so there is
no device synchronisation per call. A pass whose outputs were backpropagated
is training: its statistics are meant to move, and it is not measured.

Lean passes (the guard's): a snapshot costs a copy of every running mean per
pass, so a pass is not snapshotted at a signature whose passes so far were all
trained. The first untrained pass there goes unmeasured (its finding stands,
only the drift figure of its evidence is missing) and the signature is measured
from then on.
"""

from __future__ import annotations

import weakref


class BatchNormPasses:
    def __init__(self, torch, writer, facts, lean: bool = False) -> None:
        self.torch = torch
        self.writer = writer
        self.facts = facts
        self.lean = lean
        self._passes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        # Signatures with a trained pass, and with an untrained one.
        self._trained_sites: set = set()
        self._untrained_sites: set = set()

    def _tracked_layers(self, module) -> list:
        extra = self.facts.record(module).extra
        tracked = extra.get("batchnorm")
        if tracked is None:
            tracked = extra["batchnorm"] = [
                (layer, desc) for layer, desc, tracks in self.facts.sensitive_layers(module) if tracks
            ]
        return tracked

    def open(self, module, key: tuple, sig: int):
        """Open (or continue) the pass this call of ``module`` belongs to; ``key`` names the pass.

        Returns the pass (its ``"trained"`` is set when a backward reaches
        the call's output), or ``None`` when no running statistics move.
        """
        tracked = [(layer, desc) for layer, desc in self._tracked_layers(module)
                   if layer.running_mean is not None]
        current = self._passes.get(module)
        moving = any(layer.training for layer, _ in tracked)
        if current is not None and (not moving or current["key"] != key):
            self.close(module)
            current = None
        if not moving:
            return None
        if current is None:
            measured = not self.lean or sig not in self._trained_sites or sig in self._untrained_sites
            current = {
                "key": key,
                "sig": sig,
                "calls": 0,
                "trained": False,
                "snapshots": [
                    (layer, desc, layer.running_mean.detach().clone()) for layer, desc in tracked
                ] if measured else [],
            }
            self._passes[module] = current
        current["calls"] += 1
        return current

    def close(self, module) -> None:
        current = self._passes.pop(module, None)
        if current is None:
            return
        (self._trained_sites if current["trained"] else self._untrained_sites).add(current["sig"])
        # Measuring a trained pass would cost a sync per step.
        if current["trained"]:
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

    def close_all(self, on_error) -> None:
        for module in list(self._passes.keys()):
            try:
                self.close(module)
            except Exception as exc:
                on_error(exc)
