"""BatchNorm running statistics: how far one pass of a model moved them.

A pass is the run of calls of one module from one call site with no backward
or optimizer step in between: a validation loop is one pass, each training
step is its own. Its drift is measured once, when the pass ends, so there is
no device synchronisation per call. A pass whose outputs were backpropagated
is training: its statistics are meant to move, and it is not measured.
"""

from __future__ import annotations

import weakref


class BatchNormPasses:
    def __init__(self, torch, writer, facts) -> None:
        self.torch = torch
        self.writer = writer
        self.facts = facts
        self._passes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def open(self, module, key: tuple, sig: int):
        """Open (or continue) the pass this call of ``module`` belongs to; ``key`` names the pass.

        Returns the pass (its ``"trained"`` is set when a backward reaches
        the call's output), or ``None`` when no running statistics move.
        """
        tracked = [
            (layer, desc)
            for layer, desc, tracks in self.facts.sensitive_layers(module)
            if tracks and layer.running_mean is not None
        ]
        current = self._passes.get(module)
        moving = any(layer.training for layer, _ in tracked)
        if current is not None and (not moving or current["key"] != key):
            self.close(module)
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
            self._passes[module] = current
        current["calls"] += 1
        return current

    def close(self, module) -> None:
        current = self._passes.pop(module, None)
        # Measuring a trained pass would cost a sync per step.
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

    def close_all(self, on_error) -> None:
        for module in list(self._passes.keys()):
            try:
                self.close(module)
            except Exception as exc:
                on_error(exc)
