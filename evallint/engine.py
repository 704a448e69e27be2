"""The lint pipeline: discover -> index each file (parallel) -> analyse the project -> rules -> diagnostics.

Per-file work returns values, never raises: a file that cannot be read or
parsed becomes a ``FileResult`` with an error, reported as EVL001.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import sys
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path

from evallint.analysis import ir
from evallint.config import Settings
from evallint.discovery import SourcePath, discover, project_files
from evallint.internal_errors import InternalError, describe, unique
from evallint.lifetime import keep, worker_pool
from evallint.parsing.notebook import CellMap
from evallint.parsing.python import ParseFailure
from evallint.strict import strict
from evallint.types import Diagnostic, Finding, Location



@dataclass
class FileResult:
    path: str  # display path
    absolute: str
    index: ir.FileIndex | None = None
    error: ParseFailure | None = None
    cell_map: CellMap | None = None
    # `# noqa` comments, read only for a file with a diagnostic (tokenizing every file is not free).
    suppressions: object = None  # evallint.suppression.Suppressions once read
    # A bug of evallint's met while indexing the file: the file is then unknown to the analysis.
    internal_error: InternalError | None = None


@dataclass
class LintReport:
    diagnostics: list[Diagnostic]
    files_checked: int
    results: dict[str, FileResult] = field(default_factory=dict)
    internal_errors: list[InternalError] = field(default_factory=list)
    # Files in a newer Python's syntax that this Python cannot read (not parse errors: no EVL001).
    newer_python: list[str] = field(default_factory=list)


def module_name_for(absolute: str) -> tuple[str, bool]:
    """Dotted module name from the package directories above a file (``pkg/sub/mod.py`` -> ``pkg.sub.mod``)."""
    directory, filename = os.path.split(absolute)
    is_package = filename == "__init__.py"
    packages = _packages_of(directory)
    if is_package:
        # An ``__init__.py`` outside any package (at the file system's root) is named after its directory.
        parts = packages or (os.path.basename(directory),)
    else:
        parts = (*packages, filename.rpartition(".")[0] or filename)
    return ".".join(parts) or Path(absolute).stem, is_package


@functools.lru_cache(maxsize=None)
def _packages_of(directory: str) -> tuple[str, ...]:
    """The package names a directory's modules are inside, outermost first: one ``stat`` per
    directory of a run, not one per directory per file. The cache is cleared at each run."""
    parent = os.path.dirname(directory)
    if parent == directory or not os.path.isfile(os.path.join(directory, "__init__.py")):
        return ()
    return (*_packages_of(parent), os.path.basename(directory))


# Texts to read instead of the files on disk, by absolute path: fixed-but-unwritten text during the
# fix loop, the lines flake8 read, an editor's buffer (a notebook's: its JSON). Worker processes do not see them: lint with jobs=1 inside.
_OVERLAYS: ContextVar[dict[str, str | bytes] | None] = ContextVar("evallint_source_overlays", default=None)


@contextlib.contextmanager
def overlaid_sources(texts: dict[str, str | bytes]):
    """Read these texts instead of the files on disk while the block runs."""
    token = _OVERLAYS.set({**(_OVERLAYS.get() or {}), **texts})
    try:
        yield
    finally:
        _OVERLAYS.reset(token)


def read_source(absolute: str) -> tuple[str | None, CellMap | None, ParseFailure | None]:
    """Text of a file as Python (notebooks converted), or the failure to report."""
    overlays = _OVERLAYS.get()
    if overlays and absolute in overlays:
        text = overlays[absolute]
        # A notebook's overlay is its JSON, and bytes are what the file would hold: both read as a file is.
        if isinstance(text, bytes) or absolute.endswith(".ipynb"):
            return source_from_bytes(absolute, text if isinstance(text, bytes) else text.encode("utf-8"))
        return text, None, None
    try:
        with open(absolute, "rb") as handle:
            data = handle.read()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return None, None, ParseFailure(f"cannot read file: {reason}")
    return source_from_bytes(absolute, data)


def source_from_bytes(absolute: str, data: bytes) -> tuple[str | None, CellMap | None, ParseFailure | None]:
    from evallint.parsing.notebook import NotebookError, notebook_to_python
    from evallint.parsing.python import decode_source

    if absolute.endswith(".ipynb"):
        try:
            text, cells = notebook_to_python(data)
        except NotebookError as error:
            return None, None, ParseFailure(str(error))
        return text, cells, None
    decoded = decode_source(data)
    if isinstance(decoded, ParseFailure):
        return None, None, decoded
    return decoded, None, None


def index_file(source: SourcePath) -> FileResult:
    """Phase 1 for one file. Runs in worker processes; returns a value for every input."""
    result = FileResult(source.path, source.absolute)
    text, cells, failure = read_source(source.absolute)
    if failure is not None:
        result.error = failure
        return result
    assert text is not None
    return _index_text(source, text, cells)


def _index_text(
    source: SourcePath, text: str, cells: CellMap | None, module_name: tuple[str, bool] | None = None
) -> FileResult:
    """Parse and index a text; ``module_name`` is ``module_name_for(source.absolute)`` when the
    caller has it already."""
    from evallint.analysis.index import index_module
    from evallint.parsing.python import parse_ast
    result = FileResult(source.path, source.absolute, cell_map=cells)
    module = parse_ast(text)
    if isinstance(module, ParseFailure):
        result.error = module
        return result
    name, is_package = module_name if module_name is not None else module_name_for(source.absolute)
    try:
        result.index = index_module(source.path, name, is_package, module)
    except RecursionError:
        result.error = ParseFailure("source is too deeply nested to analyse")
    except Exception as error:
        if strict():
            raise
        result.internal_error = InternalError("indexing", source.path, None, describe(error))
    return result


# -- phase 1 for a whole run: cache, pre-screen, worker pool --------------------------------------------

# Test-only hook: a pool worker given the file of this base name dies as if the native parser crashed.
# Read by pool workers only (never by a run without workers), so a normal run cannot be affected.
CRASH_HOOK_VARIABLE = "EVALLINT_TEST_CRASH_ON"


@dataclass(frozen=True)
class _Task:
    source: SourcePath
    # "screen": index a seed file, screen any other from its text alone; "index": index the file
    # (pre-screen off); "needed": index a screened file the closure needs (its screen is known);
    # "check": only check the syntax of an unneeded file.
    mode: str
    extra_words: frozenset[str]
    cache: object | None  # evallint.cache.Cache, to key what the worker itself read


@dataclass
class _Outcome:
    key: str | None
    result: FileResult
    screen: object  # evallint.prescreen.ScreenFacts; None from a "needed" task
    # A seed file's identifiers, kept out of its screen when nothing caches it: the closure only
    # needs the union of all seeds' (``relevant_files``), and a worker sends one union per chunk.
    mentioned: frozenset[str] = frozenset()


def _process(task: _Task) -> _Outcome:
    """Read one file, and index, screen or syntax-check it (see ``_Task.mode``)."""
    from evallint import prescreen

    source = task.source
    name, is_package = module_name_for(source.absolute)
    key = None
    if task.cache is None:
        # Through read_source, which fixes and the flake8 plugin overlay with unwritten text.
        text, cells, failure = read_source(source.absolute)
    else:
        try:
            with open(source.absolute, "rb") as handle:
                data = handle.read()
        except OSError as error:
            reason = error.strerror or type(error).__name__
            result = FileResult(source.path, source.absolute, error=ParseFailure(f"cannot read file: {reason}"))
            return _Outcome(None, result, _error_screen())
        key = task.cache.file_key(data, source.path, source.absolute, name, is_package)
        text, cells, failure = source_from_bytes(source.absolute, data)
    if failure is not None or text is None:
        return _Outcome(key, FileResult(source.path, source.absolute, error=failure), _error_screen())
    if task.mode == "needed":
        return _Outcome(key, _index_text(source, text, cells, (name, is_package)), None)
    identifiers = prescreen.identifiers_of(text)
    seed = prescreen.is_seed(identifiers, task.extra_words)
    if not seed and task.mode != "index":
        screen = prescreen.screen_from_text(text, identifiers, name)
        if task.mode == "screen":
            return _Outcome(key, FileResult(source.path, source.absolute, cell_map=cells), screen)
        if prescreen.syntax_ok(text):
            screen = replace(screen, checked=True)
            return _Outcome(key, FileResult(source.path, source.absolute, cell_map=cells), screen)
    result = _index_text(source, text, cells, (name, is_package))
    toplevel = prescreen.toplevel_from_index(result.index) if result.index is not None else frozenset()
    # A file that fails to parse is kept (it must report EVL001); it defines nothing.
    seed = seed or result.index is None
    if seed and task.cache is None:
        screen = prescreen.ScreenFacts(True, toplevel, frozenset(), name.rsplit(".", 1)[-1])
        return _Outcome(key, result, screen, identifiers)
    return _Outcome(key, result, prescreen.ScreenFacts(seed, toplevel, identifiers, name.rsplit(".", 1)[-1]))


def _error_screen():
    from evallint.prescreen import ScreenFacts

    return ScreenFacts(True, frozenset(), frozenset(), "")


def _pool_worker(task: _Task) -> _Outcome:
    crash_on = os.environ.get(CRASH_HOOK_VARIABLE)
    if crash_on and os.path.basename(task.source.absolute) == crash_on:
        import signal

        os.kill(os.getpid(), signal.SIGSEGV)
    return _process(task)


def _crashed(task: _Task) -> _Outcome:
    failure = ParseFailure("cannot parse source: the process analysing this file crashed (a bug in the native parser?)")
    return _Outcome(None, FileResult(task.source.path, task.source.absolute, error=failure), _error_screen())


def _failed(task: _Task, error: BaseException) -> _Outcome:
    """A task that raised: a bug of evallint's, reported as one; the file is unknown to the analysis."""
    internal = InternalError("reading", task.source.path, None, describe(error))
    return _Outcome(None, FileResult(task.source.path, task.source.absolute, internal_error=internal), _error_screen())


def _process_contained(task: _Task) -> _Outcome:
    try:
        return _process(task)
    except Exception as error:
        if strict():
            raise
        return _failed(task, error)


def _run_tasks(tasks: list[_Task], jobs: int, mentioned: set[str], share: "_ForkedShare") -> list[_Outcome]:
    """Run tasks in worker processes and, where the ``share``'s workers can be forked, in this one
    too; results in task order. A worker that dies costs only its own file; a task that raises here
    is retried in a worker."""
    if jobs <= 1 or len(tasks) < 4:
        return [_process_contained(task) for task in tasks]
    from concurrent.futures.process import BrokenProcessPool

    outcomes: list[_Outcome | None] = [None] * len(tasks)
    try:
        shared = share.run(tasks, outcomes, mentioned)
        if not shared:
            size = max(1, min(CHUNK_FILES, len(tasks) // (jobs * 8)))
            chunks = [list(range(start, min(start + size, len(tasks)))) for start in range(0, len(tasks), size)]
            with worker_pool(max_workers=min(jobs, len(chunks))) as pool:
                futures = [(chunk, pool.submit(_run_chunk, [tasks[i] for i in chunk])) for chunk in chunks]
                for chunk, future in futures:
                    try:
                        done = future.result()
                    except Exception:
                        continue  # a dead worker, or a result that cannot come back: retried below
                    for index, outcome in zip(chunk, done):
                        outcomes[index] = outcome
    except BrokenProcessPool:
        pass
    remaining = [i for i, outcome in enumerate(outcomes) if outcome is None]
    # After a crash, one worker takes the rest in order: the first unfinished task is the one that killed it.
    while remaining:
        with worker_pool(max_workers=1) as pool:
            futures = [(i, pool.submit(_pool_worker, tasks[i])) for i in remaining]
            culprit = None
            for i, future in futures:
                try:
                    outcomes[i] = future.result()
                except BrokenProcessPool:
                    culprit = i
                    break
                except Exception as error:  # it raised, or its result could not be sent back
                    if strict():
                        raise
                    outcomes[i] = _failed(tasks[i], error)
        if culprit is not None:
            outcomes[culprit] = _crashed(tasks[culprit])
        remaining = [i for i in remaining if outcomes[i] is None]
    return outcomes  # type: ignore[return-value]


class _ForkedShare:
    """Forked workers that index alongside this process, in every round of phase 1 (the
    pre-screen's and the closure's): forked once, while this process is still small. A worker
    forked for the second round copied the page tables of everything the first built, and each
    page this process wrote afterwards faulted once more.

    In each round, workers take chunks of files from the start, this process takes them from the
    end, until the two meet; two shared bounds say what is left, so each file is taken exactly
    once. A chunk is a fraction of what is left, at most ``CHUNK_FILES``, so the last chunks are
    small and neither side waits long for the other to finish one (``_claim``). What this
    process indexes is never pickled, which saves transfer.

    Workers append each chunk's outcomes to a spool file of their own as soon as it is done, and
    this process reads what is there between two chunks of its own. Sent through the pool
    instead, every chunk waited for this process to take the next task and the results off the
    pipe, which it only does between two files: the workers stood idle meanwhile. A
    worker that dies leaves its finished chunks in its spool; the chunks it had not finished are
    retried (``_run_tasks``), and later rounds run without forked workers.

    The seeds' identifiers (``_Outcome.mentioned``) are gathered chunk by chunk, a worker's as
    one union per chunk: the same names recur from file to file, so the union is a fraction of
    the strings to pickle, unpickle and free one by one.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.bounds = None  # what is left of a round's tasks: [first, end)
        self.directory = None
        self.spools: list[_Spool] = []
        self.pool = None
        self.exits = contextlib.ExitStack()  # the pool's (``worker_pool``)
        self.broken = False

    def __enter__(self) -> "_ForkedShare":
        return self

    def __exit__(self, failure_type, failure, traceback) -> None:
        global _shared
        _shared = None
        self.exits.__exit__(failure_type, failure, traceback)
        for spool in self.spools:
            spool.close()
        if self.directory is not None:
            self.directory.cleanup()

    def _start(self) -> bool:
        """The spool files and the pool, made on the first round. False where they cannot be:
        with no worker to fork (one job), without fork, where no spool file can be made, or
        before Python 3.11, whose parser does not turn every too-deep input into an error
        (recursion guards in the parser and in building the tree), so that a native crash in
        this process would end the run instead of costing one file."""
        global _shared
        import multiprocessing
        import tempfile

        from evallint.analysis.parallel import can_fork

        if self.workers < 1 or not can_fork() or sys.version_info < (3, 11):
            self.broken = True
            return False
        context = multiprocessing.get_context("fork")
        try:
            self.directory = tempfile.TemporaryDirectory(prefix="evallint-")
            self.spools = [_Spool(os.path.join(self.directory.name, str(worker))) for worker in range(self.workers)]
        except OSError:
            self.broken = True
            return False
        self.bounds = context.Array("q", 2)
        _shared = self.bounds  # the workers, forked at the first submit, inherit it
        self.pool = self.exits.enter_context(worker_pool(max_workers=self.workers, mp_context=context))
        return True

    def run(self, tasks: list[_Task], outcomes: list, mentioned: set[str]) -> bool:
        """One round: False, having run nothing, where the workers cannot be had (no spool file,
        or a worker died in an earlier round). Outcomes left None were not delivered."""
        if self.broken or (self.pool is None and not self._start()):
            return False
        processes = self.workers + 1
        with self.bounds.get_lock():  # the last round's workers are done: none reads them now
            self.bounds[0], self.bounds[1] = 0, len(tasks)

        def take(spool: _Spool) -> None:
            for first, done, names in spool.records():
                outcomes[first : first + len(done)] = done
                mentioned.update(names)

        try:
            futures = [self.pool.submit(_run_share, spool.path, tasks, processes) for spool in self.spools]
            while (claim := _claim(self.bounds, processes, from_start=False)) is not None:
                first, end = claim
                done = [_process_here(tasks[i]) for i in range(first, end)]
                outcomes[first:end] = done
                mentioned.update(_gather_mentioned(done))
                for spool in self.spools:
                    take(spool)
            for future in futures:
                try:
                    future.result()
                except Exception:
                    self.broken = True  # a dead worker: what it finished is in its spool
        finally:
            for spool in self.spools:
                take(spool)
        return True


class _Spool:
    """A worker's spool file, read as it grows: each record is a pickled chunk (see ``record``)
    after its length, and a record not yet written in full is read later."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.handle = open(path, "w+b")  # made here, appended to by the worker
        self.offset = 0

    def records(self) -> list[tuple[int, list[_Outcome], frozenset[str]]]:
        import pickle

        found = []
        while True:
            self.handle.seek(self.offset)
            head = self.handle.read(8)
            size = int.from_bytes(head, "little")
            body = self.handle.read(size) if len(head) == 8 else b""
            if len(head) < 8 or len(body) < size:
                return found
            try:
                found.append(pickle.loads(body))
            except Exception:  # cannot happen to a whole record; if it does, its files are retried
                pass
            self.offset += 8 + size

    def close(self) -> None:
        self.handle.close()

    @staticmethod
    def record(first: int, done: list[_Outcome]) -> bytes:
        """One chunk's record, as ``records`` reads it back: the position of its first task, its
        outcomes and the union of their seeds' identifiers (taken off the outcomes)."""
        import pickle

        data = pickle.dumps((first, done, _gather_mentioned(done)), protocol=pickle.HIGHEST_PROTOCOL)
        return len(data).to_bytes(8, "little") + data


def _gather_mentioned(done: list) -> frozenset[str]:
    """The union of these outcomes' ``mentioned`` identifiers, which it takes off them."""
    gathered = frozenset().union(*(outcome.mentioned for outcome in done if outcome is not None))
    for outcome in done:
        if outcome is not None:
            outcome.mentioned = frozenset()
    return gathered


def _process_here(task: _Task) -> _Outcome | None:
    """A task in this process; None (to be retried in a worker) if it raises."""
    try:
        return _process(task)
    except Exception:
        if strict():
            raise
        return None


# The bounds of the running ``_ForkedShare``'s round; its workers inherit them.
_shared = None

CHUNK_FILES = 32


def _claim(bounds, processes: int, from_start: bool) -> tuple[int, int] | None:
    """Take the next chunk of what is left of a round, from its start or its end: a quarter of
    each process's part of what is left, at most ``CHUNK_FILES`` files. None once nothing is left."""
    with bounds.get_lock():
        first, end = bounds[0], bounds[1]
        if first >= end:
            return None
        size = max(1, min(CHUNK_FILES, (end - first) // (4 * processes)))
        if from_start:
            bounds[0] = first + size
            return first, first + size
        bounds[1] = end - size
        return end - size, end


def _run_share(path: str, tasks: list[_Task], processes: int) -> None:
    """A forked worker's share of a round: chunks from the start of what is left, until nothing
    is; each chunk's outcomes are appended to the spool file ``path`` (see ``_Spool``) when done."""
    assert _shared is not None, "_run_share runs only in a worker forked by a _ForkedShare"
    bounds = _shared
    with open(path, "ab") as spool:
        while (claim := _claim(bounds, processes, from_start=True)) is not None:
            first, end = claim
            try:
                record = _Spool.record(first, [_pool_worker(tasks[i]) for i in range(first, end)])
            except Exception:
                continue  # an internal error: its files are retried one by one
            # A failed write ends the share: a record after a torn one could not be found.
            spool.write(record)
            spool.flush()  # whole, even if the worker dies later


def _run_chunk(tasks: list[_Task]) -> list[_Outcome]:
    """A chunk in a worker of a pool that is not forked."""
    return [_pool_worker(task) for task in tasks]


def index_files(
    sources: list[SourcePath],
    jobs: int | None = None,
    *,
    cache=None,
    prescreen: bool = True,
    settings: Settings | None = None,
    file_keys: list[str | None] | None = None,
) -> list[FileResult]:
    """Phase 1 for every source, in source order: cached results, pre-screened files, worker processes.
    ``file_keys`` are the sources' cache keys when the caller has computed them already."""
    from evallint import prescreen as screening

    _packages_of.cache_clear()  # packages may have gained or lost an ``__init__.py`` since the last run
    jobs = jobs or os.cpu_count() or 1
    extra = screening.extra_seed_words(settings) if settings is not None else frozenset()
    full = not prescreen or extra is None
    extra = extra or frozenset()
    outcomes: list[_Outcome | None] = [None] * len(sources)
    keys: list[str | None] = [None] * len(sources)
    if cache is not None:
        for position, source in enumerate(sources):
            keys[position] = file_keys[position] if file_keys is not None else _file_key(cache, source)
            entry = cache.load(keys[position]) if keys[position] else None
            if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], screening.ScreenFacts):
                screen, result = entry
                if isinstance(result, FileResult) and result.path == source.path and result.absolute == source.absolute:
                    outcomes[position] = _Outcome(keys[position], result, screen)
                elif result is None and not full:
                    outcomes[position] = _Outcome(keys[position], FileResult(source.path, source.absolute), screen)

    mentioned: set[str] = set()  # the seeds' identifiers that their screens do not hold
    share = _ForkedShare(jobs - 1)

    def compute(work: list[tuple[int, str]]) -> None:
        tasks = [_Task(sources[i], mode, extra, cache) for i, mode in work]
        done = _run_tasks(tasks, jobs, mentioned, share)
        mentioned.update(_gather_mentioned(done))  # those of outcomes not made in a forked share
        for (position, _), outcome in zip(work, done):
            if outcome.screen is None:
                outcome.screen = _indexed_screen(outcomes[position].screen, outcome.result)
            outcomes[position] = outcome
            if cache is not None and outcome.key is not None and outcome.result.internal_error is None:
                indexed = outcome.result.index is not None or outcome.result.error is not None
                cache.store(outcome.key, (outcome.screen, outcome.result if indexed else None))

    with share:
        first_mode = "index" if full else "screen"
        compute([(i, first_mode) for i, outcome in enumerate(outcomes) if outcome is None])
        if not full:
            screens = {i: outcome.screen for i, outcome in enumerate(outcomes) if outcome is not None}
            needed = screening.relevant_files(screens, mentioned)
            # Every file is parsed once: the needed ones that were only screened are indexed now,
            # the others get the syntax check that reports EVL001.
            work = [(i, "needed") for i in sorted(needed) if _screened_out(outcomes[i])]
            work += [(i, "check") for i, screen in sorted(screens.items()) if i not in needed and not screen.checked]
            if work:
                compute(work)
            for i, outcome in enumerate(outcomes):
                if i not in needed and outcome is not None and outcome.result.error is None:
                    # Whatever the cache holds for it, a file outside the closure takes no part in the analysis.
                    outcome.result = FileResult(sources[i].path, sources[i].absolute, cell_map=outcome.result.cell_map,
                                                internal_error=outcome.result.internal_error)
    return [outcome.result for outcome in outcomes if outcome is not None]


def _indexed_screen(screened, result: FileResult):
    """The screen of a file first screened from its text, now that it is indexed."""
    from evallint.prescreen import toplevel_from_index

    if result.index is None:  # it does not parse after all: it must report EVL001
        return replace(screened, seed=True, toplevel=frozenset(), checked=True)
    return replace(screened, toplevel=toplevel_from_index(result.index), checked=True)


def _screened_out(outcome: _Outcome | None) -> bool:
    return outcome is not None and outcome.result.index is None and outcome.result.error is None


def _file_key(cache, source: SourcePath) -> str | None:
    try:
        with open(source.absolute, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    name, is_package = module_name_for(source.absolute)
    return cache.file_key(data, source.path, source.absolute, name, is_package)


def lint_paths(paths: list[str], settings: Settings | None = None, jobs: int | None = None) -> list[Diagnostic]:
    """Lint files and directories, using the whole project around them; diagnostics sorted."""
    return run(paths, settings, jobs).diagnostics


def run(
    paths: list[str],
    settings: Settings | None = None,
    jobs: int | None = None,
    *,
    use_cache: bool = False,
    prescreen: bool = True,
    unsafe_fix_edits: bool = False,
) -> LintReport:
    """Lint ``paths``. ``use_cache`` reads and writes the cache (the CLI turns it on; the API leaves it off)."""
    from evallint.config import load_settings, with_nested_configs

    if settings is None:
        settings = load_settings(None, paths)
    targets = discover(paths or ["."], settings)
    settings = with_nested_configs(settings, [t.absolute for t in targets])
    sources = list(targets)
    if settings.project_root is not None and any(Path(p).is_file() for p in paths):
        # Explicit files (pre-commit passes only the staged ones): read the rest of the project for summaries.
        known = {s.absolute for s in sources}
        sources += [s for s in project_files(settings) if s.absolute not in known]
    report_paths = {t.absolute for t in targets}
    cache, run_key, file_keys = None, None, None
    if use_cache:
        from evallint.cache import Cache

        cache = Cache.for_settings(settings)
        # Each file is read and hashed once per run: the run's key and the per-file lookups share these.
        file_keys = [_file_key(cache, source) for source in sources]
        run_key = _run_key(cache, file_keys, settings, report_paths, (prescreen, unsafe_fix_edits))
        cached = _cached_run(cache, run_key, sources, file_keys)
        if cached is not None:
            return LintReport(cached[1], len(targets), cached[0])
    with _collector_paused():
        results = index_files(sources, jobs, cache=cache, prescreen=prescreen, settings=settings,
                              file_keys=file_keys)
        internal_errors = [r.internal_error for r in results if r.internal_error is not None]
        diagnostics = analyse(results, settings, report_paths, unsafe_fix_edits=unsafe_fix_edits,
                              jobs=jobs or os.cpu_count() or 1, internal_errors=internal_errors)
    keep(results)
    by_display = {r.path: r for r in results}
    # A run that met a bug is not kept: the next run reports it again instead of hiding it.
    if run_key is not None and not internal_errors:
        cache.store(run_key, list(diagnostics))
    newer = sorted(r.path for r in results if r.error is not None and r.error.newer_python and r.absolute in report_paths)
    return LintReport(diagnostics, len(targets), by_display, unique(internal_errors), newer)


@contextlib.contextmanager
def _collector_paused():
    """No cyclic garbage collection while indexing and analysing.

    Both phases allocate hundreds of thousands of long-lived, acyclic objects
    (the IR, unpickled from the workers, and the analysis states); each
    automatic collection walks all of them again, a large share of a cold run on
    a large tree. Reference counting still frees everything that
    is not in a cycle. Worker processes forked meanwhile inherit the pause.

    Afterwards the run's objects are moved to the oldest generation (freeze,
    then unfreeze), not left in the youngest: there the first automatic
    collection would walk them all. Any cycles among
    them are still collected, by the next full collection.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def _run_key(cache, file_keys: list[str | None], settings: Settings, report_paths: set[str], run_options: tuple) -> str | None:
    """One key for a whole run: every file's key, what is reported, all settings. None if a file is unreadable."""
    if any(key is None for key in file_keys):
        return None
    return cache.run_key(repr(settings), repr(run_options), "\n".join(sorted(report_paths)), "\n".join(file_keys))  # type: ignore[arg-type]


def _cached_run(
    cache, run_key: str | None, sources: list[SourcePath], file_keys: list[str | None]
) -> tuple[dict[str, FileResult], list[Diagnostic]] | None:
    """A whole run answered from the cache: the diagnostics, and the file results of the files they name."""
    stored = cache.load(run_key) if run_key is not None else None
    if not (isinstance(stored, list) and all(isinstance(d, Diagnostic) for d in stored)):
        return None
    named = {d.path for d in stored}
    results: dict[str, FileResult] = {}
    for source, key in zip(sources, file_keys):
        result = FileResult(source.path, source.absolute)
        if source.path in named:
            entry = cache.load(key or "")
            if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], FileResult)):
                return None
            result = entry[1]
        results[source.path] = result
    return results, stored


def analyse(
    results: list[FileResult], settings: Settings, report_paths: set[str], unsafe_fix_edits: bool = False,
    jobs: int = 1, internal_errors: list[InternalError] | None = None,
) -> list[Diagnostic]:
    """Phase 2 and the rules. Without ``unsafe_fix_edits`` unsafe fixes are planned, not written
    (writing one rewrites the whole module; concise output only counts them). With ``jobs`` > 1
    phase 2 may use a second process; the findings are the same. Bugs of evallint's met on the way
    are appended to ``internal_errors``: what they touched is left out, the rest is reported."""
    from evallint.analysis.facts import ProjectFacts
    from evallint.analysis.callgraph import ProjectIndex
    from evallint.analysis.driver import Analyzer
    from evallint.reporting import codes_of_run, reported
    from evallint.rules import ALL_RULES

    errors = internal_errors if internal_errors is not None else []
    codes = codes_of_run(settings)
    indexes = [r.index for r in results if r.index is not None]
    reported_files = frozenset(r.path for r in results if r.index is not None and r.absolute in report_paths)
    try:
        project = ProjectIndex(indexes)
        # Only some files reported (pre-commit): the walk can skip what cannot reach them.
        analyzer = Analyzer(project, settings)
        facts = analyzer.run(reported_files if len(reported_files) < len(indexes) else None, jobs)
        keep(analyzer)
    except Exception as error:
        if strict():
            raise
        errors.append(InternalError("analysing", None, None, describe(error)))
        facts = ProjectFacts()
    errors.extend(facts.internal_errors)
    by_path = {r.path: r for r in results}
    findings: list[Finding] = []
    for code, rule in ALL_RULES.items():
        if code in codes:
            try:
                findings.extend(rule.check(facts))
            except Exception as error:
                if strict():
                    raise
                errors.append(InternalError(f"checking rule {code} in", None, None, describe(error)))
    findings = [f for f in findings if by_path[f.file].absolute in report_paths]
    resolved = resolve_findings(findings, by_path, unsafe_fix_edits, errors)
    return sorted(reported(resolved, results, settings, report_paths), key=Diagnostic.sort_key)


def resolve_findings(
    findings: list[Finding], by_path: dict[str, FileResult], unsafe_fix_edits: bool = False,
    internal_errors: list[InternalError] | None = None,
) -> list[Diagnostic]:
    """Give findings positions (and fixes), computing positions only for the files involved. A
    file whose positions cannot be computed (a bug of evallint's, added to ``internal_errors``)
    loses its findings, not the run."""
    from evallint.positions import PositionTable

    needed: dict[str, set[int]] = {}
    for finding in findings:
        needed.setdefault(finding.file, set()).add(finding.node)
        for file, node in finding.refs:
            needed.setdefault(file, set()).add(node)
    tables = {}
    for path, nodes in needed.items():
        if path not in by_path:
            continue
        try:
            tables[path] = PositionTable.build(by_path[path], nodes)
        except Exception as error:
            if strict():
                raise
            if internal_errors is not None:
                internal_errors.append(InternalError("locating findings in", path, None, describe(error)))
    diagnostics = []
    for finding in findings:
        table = tables.get(finding.file)
        if table is None or finding.node not in table.ranges:
            continue
        start, end = table.ranges[finding.node]
        message = finding.message
        if finding.refs:
            lines = []
            for file, node in finding.refs:
                ref_table = tables.get(file)
                row = ref_table.display_row(node) if ref_table is not None else "?"
                lines.append(str(row) if file == finding.file else f"{row} of {file}")
            message = message.format(*lines)
        # Unsafe edits are written only when asked for; otherwise the fix is planned, which tells
        # whether it exists (None when it cannot be built) without rewriting the module.
        if finding.fix is not None and finding.fix.applicability == "unsafe" and not unsafe_fix_edits:
            fix = table.planned_fix(finding)
        else:
            fix = table.fix_for(finding)
        cell = None
        result = by_path[finding.file]
        if result.cell_map is not None:
            from evallint.notebook_writer import fix_in_cell

            cell, start_row = result.cell_map.locate(start.row)
            _, end_row = result.cell_map.locate(end.row)
            start, end = (
                Location(start_row, result.cell_map.column(start.row, start.column)),
                Location(end_row, result.cell_map.column(end.row, end.column)),
            )
            fix = fix_in_cell(fix, cell, result.cell_map)
        diagnostics.append(Diagnostic(finding.code, message, finding.file, start, end, fix, cell))
    return diagnostics


def with_overrides(settings: Settings, **overrides) -> Settings:
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
