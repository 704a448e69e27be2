"""The cache: warm runs re-parse nothing, an edit re-parses one file, damage is never trusted."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evallint import cache as cache_module
from evallint import engine, indexing
from evallint.cache import FORMAT, MAGIC, Cache
from evallint.config import Settings

from .conftest import FIXTURES


@pytest.fixture(autouse=True)
def steady_code(monkeypatch):
    """Others may edit evallint while these tests run; a changed checkout would (rightly) miss the cache."""
    monkeypatch.setattr(cache_module, "code_fingerprint", lambda: "steady")


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    shutil.copytree(FIXTURES, root, ignore=shutil.ignore_patterns("*.md"))
    return root


@pytest.fixture
def parses(monkeypatch):
    """Paths the run parses with libcst (one process, so every parse is seen here)."""
    seen: list[str] = []
    original = indexing._index_text

    def counting(source, *rest):
        seen.append(Path(source.absolute).name)
        return original(source, *rest)

    monkeypatch.setattr(indexing, "_index_text", counting)
    return seen


def _lint(root: Path, cache_dir: Path, use_cache: bool = True):
    settings = Settings(project_root=str(root), cache_dir=str(cache_dir))
    report = engine.run([str(root)], settings, jobs=1, use_cache=use_cache)
    return [(d.path, d.location, d.code, d.message) for d in report.diagnostics]


def test_warm_run_parses_nothing_and_an_edit_parses_one_file(project, tmp_path, parses):
    cache_dir = tmp_path / "cache"
    cold = _lint(project, cache_dir)
    assert cold and parses
    parses.clear()
    assert _lint(project, cache_dir) == cold
    assert parses == []
    edited = project / "bug_eval_without_parens.py"
    edited.write_text(edited.read_text() + "\n# touched\n")
    assert _lint(project, cache_dir) == cold
    assert parses == ["bug_eval_without_parens.py"]
    assert (cache_dir / "CACHEDIR.TAG").is_file()


def test_results_with_and_without_the_cache_are_identical(project, tmp_path):
    assert _lint(project, tmp_path / "cache") == _lint(project, tmp_path / "unused", use_cache=False)
    assert not (tmp_path / "unused").exists()


def _entries(cache_dir: Path) -> list[Path]:
    return sorted(p for p in (cache_dir / f"v{FORMAT}").rglob("*") if p.is_file())


def _checksummed(payload: bytes) -> bytes:
    import hashlib

    return MAGIC + bytes([FORMAT]) + hashlib.blake2b(payload, digest_size=32).digest() + payload


@pytest.mark.parametrize(
    "damage",
    [
        lambda blob: b"",
        lambda blob: blob[: len(blob) // 2],
        lambda blob: blob[:-1] + bytes([blob[-1] ^ 0xFF]),
        lambda blob: b"NOTCACHE" + blob[8:],
        lambda blob: _checksummed(b"\x80\x05not a pickle at all"),
        lambda blob: _checksummed(pickle.dumps(("another-key", ["foreign"]))),
        lambda blob: _checksummed(pickle.dumps(("x",)) + b"trailing"),
    ],
    ids=["empty", "truncated", "flipped-byte", "bad-magic", "bad-pickle", "foreign-key", "odd-tuple"],
)
def test_damaged_entries_are_ignored_and_rebuilt(project, tmp_path, damage, parses):
    cache_dir = tmp_path / "cache"
    cold = _lint(project, cache_dir)
    for entry in _entries(cache_dir):
        entry.write_bytes(damage(entry.read_bytes()))
    parses.clear()
    assert _lint(project, cache_dir) == cold
    assert parses  # rebuilt, not trusted
    parses.clear()
    assert _lint(project, cache_dir) == cold
    assert parses == []


def test_an_entry_that_unpickles_to_the_wrong_type_is_a_miss(tmp_path):
    cache = Cache(tmp_path, "salt")
    cache.store("ab" + "0" * 38, {"not": "a result"})
    assert cache.load("ab" + "0" * 38) == {"not": "a result"}
    path = tmp_path / f"v{FORMAT}" / "ab" / ("0" * 38)
    payload = pickle.dumps(("ab" + "0" * 38, {"x": 1}))[:-3]  # cut inside the pickle, checksum still right
    path.write_bytes(_checksummed(payload))
    assert cache.load("ab" + "0" * 38) is None


def test_settings_the_summaries_depend_on_change_the_key(tmp_path):
    plain = Cache.for_settings(Settings(project_root=str(tmp_path)))
    named = Cache.for_settings(Settings(project_root=str(tmp_path), model_names=("encoder_q",)))
    args = (b"x = 1\n", "a.py", "/p/a.py", "a", False)
    assert plain.file_key(*args) != named.file_key(*args)
    assert plain.file_key(*args) != plain.file_key(b"x = 2\n", *args[1:])


def test_an_unwritable_cache_directory_is_used_read_only(project, tmp_path):
    blocker = tmp_path / "file-not-directory"
    blocker.write_text("")
    assert _lint(project, blocker / "cache") == _lint(project, tmp_path / "cache", use_cache=False)


def test_the_cli_reads_cache_dir_and_no_cache(project, tmp_path):
    import subprocess
    import sys

    cache_dir = tmp_path / "cli-cache"
    command = [sys.executable, "-m", "evallint", str(project), "-q", "--exit-zero", "--cache-dir", str(cache_dir)]
    env = {**os.environ, "PYTHONPATH": str(Path(engine.__file__).resolve().parent.parent)}
    first = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert first.returncode == 0, first.stderr
    assert _entries(cache_dir)
    second = subprocess.run(command + ["--no-cache"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert second.stdout == first.stdout


def test_an_entry_written_with_another_users_secret_is_never_unpickled(tmp_path, monkeypatch):
    """A repository can ship a `.evallint_cache/`: its entries must not run code when loaded."""
    import pickle

    from evallint import cache as cache_module

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "attacker-home"))
    attacker = cache_module.Cache(tmp_path / "shipped_cache", "salt")

    class Payload:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    key = "ab" * 20
    attacker.store(key, "harmless")
    entry = attacker._path(key)
    blob = entry.read_bytes()
    forged = pickle.dumps((key, Payload()))
    header = blob[: len(cache_module.MAGIC) + 1]
    entry.write_bytes(header + attacker._checksum(forged) + forged)

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "victim-home"))
    victim = cache_module.Cache(tmp_path / "shipped_cache", "salt")
    assert victim.load(key) is None
    assert not (tmp_path / "pwned").exists()
    # The victim's own entries still work.
    victim.store(key, "mine")
    assert victim.load(key) == "mine"


def test_every_index_survives_a_pickle_round_trip_as_constructor_calls():
    """Indexes travel from workers and into the cache as pickles of ``ir.record`` classes."""
    from evallint.analysis import ir
    from evallint.discovery import SourcePath

    seen: set[type] = set()

    def records(value):
        if isinstance(value, (tuple, list, frozenset)):
            for item in value:
                yield from records(item)
        elif hasattr(type(value), "__dataclass_fields__"):
            yield value
            for name in type(value).__dataclass_fields__:
                yield from records(getattr(value, name))

    paths = sorted(FIXTURES.rglob("*.py"))
    assert paths
    for path in paths:
        result = indexing.index_file(SourcePath(str(path), str(path)))
        if result.index is None:
            continue
        assert pickle.loads(pickle.dumps(result.index, protocol=pickle.HIGHEST_PROTOCOL)) == result.index
        for item in records(result.index):
            seen.add(type(item))
            constructor, values = item.__reduce__()
            assert constructor is type(item) and constructor(*values) == item
    # The fixtures exercise nearly every kind of record; all of them are ir.record classes.
    assert len(seen) >= 20 and all(getattr(ir, kind.__name__) is kind for kind in seen)


RECORD_PROBE = """
import pickle
from evallint.analysis import ir
call = ir.Call(3, "model.eval", ir.RefValue("model"), "eval", (ir.ConstValue(1),), ())
twin = pickle.loads(pickle.dumps(call))
assert twin == call and hash(twin) == hash(call) and len({call, twin}) == 1
try:
    call.node = 4
except AttributeError:
    print("frozen")
else:
    print("mutable")
"""


@pytest.mark.parametrize("strict_value, expected", [("1", "frozen"), ("0", "mutable")])
def test_records_are_frozen_under_the_test_suite_and_hash_by_value_in_both_builds(strict_value, expected):
    # A run skips the frozen __init__ (a fifth of the indexing time); the suite keeps records frozen,
    # so a change to a record anywhere in the analysis fails a test.
    env = {**os.environ, "EVALLINT_STRICT": strict_value}
    done = subprocess.run([sys.executable, "-c", RECORD_PROBE], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == expected
