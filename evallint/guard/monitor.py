"""The guard's judging loop: verify's runtime judge, run after training events, warning once per location.

When to judge: a forward is settled once a training event (a ``backward()``
returning, an optimizer step) follows it, so judging happens right after
those. Judging reads every signature seen so far, so it runs only when new
signatures appeared since the last judgement (a new call site, or a known
site in a new mode: that is when a bug can first show), and otherwise on a
sparse schedule (training events 1, 2, 4, ... then every ``SWEEP_EVERY``),
which catches the rare finding that needs only more counts. At exit the whole
run is judged once more as finished.
"""

from __future__ import annotations

import atexit
import os
import threading
import warnings

from evallint.runtime.live import LiveSession
from evallint.runtime.matcher import runtime_findings

SWEEP_EVERY = 1024


class Guard:
    def __init__(self, project_root: str, category: type[Warning]) -> None:
        self.project_root = project_root
        self.category = category
        self.session = LiveSession(after_training=self._after_training, on_blind_spot=self._blind_spot,
                                   lean=True)
        self._warned: set = set()
        self._notes: set = set()
        self._judged_signatures = 0
        self._events = 0
        self._next_sweep = 1
        self._judging = threading.Lock()
        self._pid = os.getpid()
        self._finished = False
        self.suppressions = self._load_suppressions()

    def start(self) -> None:
        self.session.start()
        atexit.register(self.finish)

    def _load_suppressions(self):
        """The project's lint settings: its selection and `# noqa` comments silence warnings too."""
        from evallint.config import Settings, load_settings
        from evallint.errors import UsageError
        from evallint.runtime.suppressions import RuntimeSuppressions

        try:
            settings = load_settings(None, [self.project_root])
        except UsageError as exc:
            settings = Settings(project_root=self.project_root)
            self._note(f"the project's evallint configuration could not be read ({exc}); "
                       "its selection and ignores do not apply")
        return RuntimeSuppressions(settings)

    def finish(self) -> None:
        """Judge the run as finished (a forward never backpropagated by now never will be) and stop."""
        if self._finished or os.getpid() != self._pid:
            return
        self._finished = True
        self.session.settle()
        self.judge(finished=True)
        self.session.stop()

    def _after_training(self) -> None:
        self._events += 1
        new_signatures = len(self.session.observations.sigs) != self._judged_signatures
        if not new_signatures and self._events < self._next_sweep:
            return
        if self._events >= self._next_sweep:
            self._next_sweep = min(self._next_sweep * 2, self._events + SWEEP_EVERY)
        self.judge(finished=False)

    def judge(self, *, finished: bool) -> None:
        observations = self.session.observations
        # Another thread may be feeding the observations; a judgement already
        # running in one thread is enough.
        if not self._judging.acquire(blocking=False):
            return
        try:
            with self.session.recorder.lock:
                self._judged_signatures = len(observations.sigs)
                findings = runtime_findings((), observations, finished=finished,
                                            project_root=self.project_root,
                                            suppressed=self.suppressions.silenced_at)
                internal = list(observations.internal_errors)
        finally:
            self._judging.release()
        if internal:
            self._note(f"a probe failed ({internal[0]}), so some evidence may be missing")
        for finding in findings:
            diagnostic = finding.diagnostic
            key = (diagnostic.code, diagnostic.path, diagnostic.location.row)
            if key in self._warned:
                continue
            self._warned.add(key)
            if not self.suppressions.reported(diagnostic):
                continue
            warnings.warn_explicit(
                f"{diagnostic.code} {diagnostic.message}. Evidence: {finding.evidence}",
                self.category, diagnostic.path, diagnostic.location.row,
            )

    def _blind_spot(self, text: str) -> None:
        self._note(text)

    def _note(self, text: str) -> None:
        """Say once what the guard cannot see."""
        if text in self._notes:
            return
        self._notes.add(text)
        location = self.session.probes.user_location() or ("evallint.guard", 0)
        warnings.warn_explicit(f"evallint guard: {text}", self.category, *location)
