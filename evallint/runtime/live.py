"""Observe the current process: the probes feed one ``Observations`` directly.

``evallint verify`` runs a script in a child and reads its records from a
file; the pytest plugin and the guard observe the process they live in, so the
same ``Probes`` write into the same ``Observations`` without serialising
anything. Everything after that (verdicts, runtime findings, their evidence)
is ``verdicts``' and ``matcher``'s, for all three.

A forked child (a DataLoader worker, a ``multiprocessing`` fork) inherits the
probes but not the parent's memory: what a model does there never reaches the
parent's observations. The recorder drops the child's records and tells
``on_blind_spot`` once, so the caller can say it cannot see there.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Callable

from evallint.runtime.observations import Observations

class LiveRecorder:
    """The probes' writer: feeds each record to ``observations`` under a lock."""

    def __init__(self, observations: Observations,
                 on_blind_spot: Callable[[str], None] | None = None) -> None:
        self.observations = observations
        self.on_blind_spot = on_blind_spot
        self.lock = threading.Lock()
        self._forked = False
        self._told = False
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self._forked = True
        self.lock = threading.Lock()

    def write(self, record: dict) -> None:
        if self._forked:
            self._blind(record)
            return
        with self.lock:
            self.observations.feed(record)

    def _blind(self, record: dict) -> None:
        # Signatures are bookkeeping; a forward, step or backward is something missed.
        if self._told or record.get("t") == "sig" or self.on_blind_spot is None:
            return
        self._told = True
        self.on_blind_spot(
            f"a model ran in the forked process {os.getpid()} (a DataLoader worker or "
            "another fork); what it does there is not observed"
        )


class LiveSession:
    """Probes installed in this process, feeding ``observations``."""

    def __init__(self, *, after_training: Callable[[], None] | None = None,
                 on_blind_spot: Callable[[str], None] | None = None, lean: bool = False) -> None:
        from evallint.runtime.hooks import Probes

        self.observations = Observations()
        self.recorder = LiveRecorder(self.observations, on_blind_spot)
        self.probes = Probes(self.recorder, after_training=after_training, lean=lean)
        self._installed = False

    def start(self) -> None:
        if self._installed:
            return
        torch = self.probes.torch
        self.probes.install()
        self._installed = True
        cuda = torch.cuda.is_available()
        self.recorder.write({"t": "start", "pid": os.getpid(),
                             "device": "cuda" if cuda else "cpu", "torch": torch.__version__})

    def settle(self) -> None:
        """Measure the BatchNorm passes still open (their drift is written when a pass ends)."""
        self.probes.close_open_passes()

    def stop(self) -> None:
        if not self._installed:
            return
        self.settle()
        self.probes.uninstall()
        self._installed = False

    @property
    def device(self) -> str:
        return (self.observations.start or {}).get("device") or "cpu"

    @contextmanager
    def labelled(self, label: str):
        """Records that arrive inside the block carry ``label`` (a pytest test id)."""
        previous = self.observations.label
        self.observations.label = label
        try:
            yield
        finally:
            self.observations.label = previous
