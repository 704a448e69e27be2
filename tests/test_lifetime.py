"""What a run keeps alive for a hard exit, and that library callers keep nothing."""

from __future__ import annotations

import gc
import weakref

from evallint import lifetime
from evallint.engine import run


class _Thing:
    pass


def test_keep_does_nothing_outside_a_hard_exit_block():
    thing = _Thing()
    ref = weakref.ref(thing)
    lifetime.keep(thing)
    del thing
    gc.collect()
    assert ref() is None


def test_keep_holds_objects_until_the_block_ends():
    with lifetime.kept_until_exit():
        thing = _Thing()
        ref = weakref.ref(thing)
        lifetime.keep(thing)
        del thing
        gc.collect()
        assert ref() is not None
    gc.collect()
    assert ref() is None


def _analyzers_made(monkeypatch) -> list:
    """Weak references to every analyzer made from now on."""
    from evallint.analysis.driver import Analyzer

    made = []
    original = Analyzer.__init__

    def recording(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(weakref.ref(self))

    monkeypatch.setattr(Analyzer, "__init__", recording)
    return made


def test_a_run_inside_the_block_keeps_its_analysis_until_the_block_ends(tmp_path, monkeypatch):
    made = _analyzers_made(monkeypatch)
    (tmp_path / "train.py").write_text("def evaluate(model, x):\n    return model(x)\n")
    with lifetime.kept_until_exit():
        report = run([str(tmp_path)], jobs=1)
        gc.collect()
        assert made and all(ref() is not None for ref in made)
    assert report.files_checked == 1
    gc.collect()
    assert all(ref() is None for ref in made)


def test_a_library_run_frees_its_analysis(tmp_path, monkeypatch):
    made = _analyzers_made(monkeypatch)
    (tmp_path / "train.py").write_text("def evaluate(model, x):\n    return model(x)\n")
    run([str(tmp_path)], jobs=1)
    gc.collect()
    assert made and all(ref() is None for ref in made)
