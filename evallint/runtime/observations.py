"""What the probes saw, folded into per-signature aggregates as the records arrive.

The harness feeds ``Observations`` while the script runs, so the step budget can be checked, and
memory stays bounded by the number of distinct call sites, not the number of calls. The judges
(each rule's ``judge``, through ``verdicts``) and ``matcher.runtime_findings`` read the aggregates.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Iterable

# Forwards whose outputs may still be backpropagated are kept by sequence
# number; older ones are settled for all practical purposes.
MAX_OPEN_FORWARDS = 65536


@dataclass
class ForwardStats:
    sig: dict
    calls: int = 0
    graphs: int = 0
    trained: int = 0
    fed: int = 0
    opaque: int = 0
    mem_max: int | None = None
    first_index: int = 0
    # Calls in train mode right after the calling function's own train(), with no training step
    # since: Monte-Carlo dropout, or a flag choosing the mode (EVL101's "deliberate" train mode).
    chosen: int = 0


@dataclass
class ModeStats:
    sig: dict
    calls: int = 0
    steps_after: int = 0
    backprops_after: int = 0


@dataclass
class BatchNormStats:
    passes: int = 0
    calls: int = 0
    drift: float = 0.0
    layer: str = ""


@dataclass
class Observations:
    """Aggregates of one run's records, built incrementally by ``feed``."""

    sigs: dict = field(default_factory=dict)
    forwards: dict = field(default_factory=dict)
    steps: dict = field(default_factory=dict)
    backwards: dict = field(default_factory=dict)
    modes: dict = field(default_factory=dict)
    batchnorm: dict = field(default_factory=dict)
    sites: dict = field(default_factory=dict)
    optimized_modules: set = field(default_factory=set)
    pending_eval: dict = field(default_factory=dict)
    last_eval_switch: dict = field(default_factory=dict)
    # (pid, module serial) -> (frame of the train() call, record index), until eval() again.
    train_switch: dict = field(default_factory=dict)
    open_forwards: OrderedDict = field(default_factory=OrderedDict)
    unfed_forwards: OrderedDict = field(default_factory=OrderedDict)
    step_count: int = 0
    backward_count: int = 0
    last_training_index: int = -1
    index: int = 0
    start: dict | None = None
    end: dict | None = None
    error: dict | None = None
    internal_errors: list = field(default_factory=list)
    # What was running when a record arrived (a pytest test id), and for each
    # signature the labels under which it was seen: which tests gave the evidence.
    label: str | None = None
    labels: dict = field(default_factory=dict)

    @property
    def training_steps(self) -> int:
        """Optimizer steps, or backward calls in a script that updates weights by hand."""
        return self.step_count or self.backward_count

    def feed_many(self, records: Iterable[dict]) -> None:
        for record in records:
            self.feed(record)

    def feed(self, record: dict) -> None:
        self.index += 1
        kind = record.get("t")
        pid = record.get("p")
        if self.label is not None and "s" in record:
            self.labels.setdefault((pid, record["s"]), set()).add(self.label)
        if kind == "sig":
            self._add_sig(pid, record)
        elif kind == "f":
            stats = self.forwards.get((pid, record["s"]))
            if stats is None:
                return
            stats.calls += 1
            if stats.sig["training"] and self._train_chosen_here(pid, stats.sig):
                stats.chosen += 1
            if record.get("o"):
                stats.opaque += 1
            self.unfed_forwards[(pid, record["q"])] = stats
            if len(self.unfed_forwards) > MAX_OPEN_FORWARDS:
                self.unfed_forwards.popitem(last=False)
            if record.get("g"):
                stats.graphs += 1
                self.open_forwards[(pid, record["q"])] = stats
                if len(self.open_forwards) > MAX_OPEN_FORWARDS:
                    self.open_forwards.popitem(last=False)
                if record.get("mem") is not None:
                    stats.mem_max = max(stats.mem_max or 0, record["mem"])
        elif kind == "bp":
            stats = self.open_forwards.pop((pid, record["q"]), None)
            if stats is not None:
                stats.trained += 1
                self.last_training_index = self.index
                if not stats.sig["training"]:
                    self._training_in_eval((pid, stats.sig["m"]), backprop=True)
        elif kind == "fd":
            stats = self.unfed_forwards.pop((pid, record["q"]), None)
            if stats is not None:
                stats.fed += 1
        elif kind == "b":
            self.backward_count += 1
            self.last_training_index = self.index
            key = (pid, record["s"])
            self.backwards[key] = self.backwards.get(key, 0) + 1
        elif kind == "st":
            self.step_count += 1
            self.last_training_index = self.index
            key = (pid, record["s"])
            self.steps[key] = self.steps.get(key, 0) + 1
            sig = self.sigs.get(key)
            if sig is not None:
                for trained in sig["trained"]:
                    if not trained["training"]:
                        self._training_in_eval((pid, trained["m"]), backprop=False)
        elif kind == "mo":
            key = (pid, record["s"])
            stats = self.modes.get(key)
            if stats is None:
                return
            stats.calls += 1
            for serial in stats.sig["affects"]:
                if stats.sig["mode"]:
                    self.pending_eval.pop((pid, serial), None)
                    if stats.sig["frames"]:
                        self.train_switch[(pid, serial)] = (stats.sig["frames"][0], self.index)
                else:
                    self.train_switch.pop((pid, serial), None)
                    self.pending_eval[(pid, serial)] = key
                    self.last_eval_switch[(pid, serial)] = key
        elif kind == "bn":
            key = (pid, record["s"])
            stats = self.batchnorm.setdefault(key, BatchNormStats())
            stats.passes += 1
            stats.calls += record.get("calls", 0)
            if record.get("drift", 0.0) >= stats.drift:
                stats.drift = record["drift"]
                stats.layer = record.get("layer", "")
        elif kind == "start" and pid is None:
            self.start = record
        elif kind == "end" and pid is None:
            self.end = record
        elif kind == "error" and pid is None:
            self.error = record
        elif kind == "internal":
            self.internal_errors.append(record.get("error", ""))

    def _train_chosen_here(self, pid, sig: dict) -> bool:
        switch = self.train_switch.get((pid, sig["m"]))
        if switch is None or not sig["frames"] or switch[1] < self.last_training_index:
            return False
        frame, caller = switch[0], sig["frames"][0]
        return frame[0] == caller[0] and frame[2] == caller[2]

    def _add_sig(self, pid, record: dict) -> None:
        key = (pid, record["id"])
        record["frames"] = [tuple(f) for f in record.get("frames", [])]
        self.sigs[key] = record
        kind = record["kind"]
        if kind == "forward":
            self.forwards[key] = ForwardStats(record, first_index=self.index)
        elif kind == "mode":
            self.modes[key] = ModeStats(record)
        elif kind == "step":
            for trained in record["trained"]:
                self.optimized_modules.add((pid, trained["m"]))
        # A comprehension's frame and its function's frame can share a line: one entry per line.
        for site in dict.fromkeys((frame[0], frame[1]) for frame in record["frames"]):
            self.sites.setdefault(site, []).append((kind, key))

    def _training_in_eval(self, module_key, backprop: bool) -> None:
        switch = self.pending_eval.get(module_key)
        if switch is not None:
            stats = self.modes[switch]
            if backprop:
                stats.backprops_after += 1
            else:
                stats.steps_after += 1

    # ---- queries -----------------------------------------------------------

    def at(self, path: str, line: int, kind: str) -> list:
        return [key for k, key in self.sites.get((path, line), ()) if k == kind]

    def labels_at(self, path: str, line: int) -> set:
        """The labels under which anything ran through ``path:line``."""
        found: set = set()
        for _, key in self.sites.get((path, line), ()):
            found |= self.labels.get(key, set())
        return found

    def bn_for(self, keys: Iterable) -> BatchNormStats | None:
        found = [self.batchnorm[k] for k in keys if k in self.batchnorm]
        if not found:
            return None
        best = max(found, key=lambda s: s.drift)
        return BatchNormStats(
            passes=sum(s.passes for s in found),
            calls=sum(s.calls for s in found),
            drift=best.drift,
            layer=best.layer,
        )
