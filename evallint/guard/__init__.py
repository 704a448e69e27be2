"""Warn during a real training run when a model runs in the wrong mode.

    import evallint.guard
    evallint.guard.install()

or ``python -m evallint.guard train.py [ARGS...]``. The guard installs the
probes of ``evallint verify`` in this process and, as the run goes on, judges
what they saw with verify's own judge (``runtime.matcher.runtime_findings``).
The first time each of these happens at a source location it warns once,
with ``warnings``' category ``EvallintWarning``, pointing at that location:

* an evaluation forward runs in train mode (EVL101);
* an evaluation forward builds an autograd graph that nothing uses (EVL201);
* a training step runs while the trained model is in eval mode (EVL102).

``warnings.filterwarnings("error", category=EvallintWarning)`` (or
``-W error::evallint.guard.EvallintWarning``) turns them into errors raised
from the ``backward()`` or ``optimizer.step()`` after which the judgement was
made. The guard never changes what the script computes.

Importing this module does not import torch; ``install()`` does.
"""

from __future__ import annotations

import os
import sys


class EvallintWarning(UserWarning):
    """A train/eval-mode or autograd-mode bug that the guard saw happen."""


_active = None


def install(project_root: str | None = None) -> None:
    """Start guarding this process (a second call does nothing).

    ``project_root`` is where the project's own files live, for the locations
    the warnings name; by default the directory of the running script.
    """
    global _active
    if _active is not None:
        return
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise RuntimeError("evallint.guard watches PyTorch models, and PyTorch is not installed "
                           "in this environment.")
    from evallint.guard.monitor import Guard

    if project_root is None:
        script = sys.argv[0] if sys.argv and sys.argv[0] else ""
        project_root = os.path.dirname(os.path.realpath(script)) if os.path.isfile(script) \
            else os.getcwd()
    _active = Guard(project_root, EvallintWarning)
    _active.start()


def uninstall() -> None:
    """Judge what ran so far as finished, warn about it, and stop guarding."""
    global _active
    guard, _active = _active, None
    if guard is not None:
        guard.finish()
