"""Phase 1: every file read, pre-screened and indexed once, from the cache where it can be.

Per-file work returns values, never raises: a file that cannot be read or parsed becomes a
``FileResult`` with an error, reported as EVL001. The pre-screen (``evallint.prescreen``) runs
in two rounds: the first indexes the files that mention torch's words and screens the others
from their text; the second indexes the screened files the closure needs and checks the syntax
of the rest. How the rounds run (processes, crashes) is ``scheduler``'s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from evallint import prescreen
from evallint.analysis.regions import is_test_suite_source
from evallint.config import Settings
from evallint.discovery import SourcePath
from evallint.internal_errors import InternalError, describe
from evallint.parsing.notebook import CellMap
from evallint.parsing.python import ParseFailure
from evallint.scheduler import FileRounds, in_worker
from evallint.sources import FileResult, forget_packages, module_name_for, read_bytes, read_source, source_from_bytes
from evallint.strict import strict

# Test-only hook: a pool worker given the file of this base name dies as if the native parser crashed.
# Read by pool workers only (never by a run without workers), so a normal run cannot be affected.
CRASH_HOOK_VARIABLE = "EVALLINT_TEST_CRASH_ON"


def index_file(source: SourcePath) -> FileResult:
    """Phase 1 for one file, in this process; returns a value for every input."""
    text, cells, failure = read_source(source.absolute)
    if failure is not None:
        return FileResult(source.path, source.absolute, error=failure)
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
    screen: prescreen.ScreenFacts | None  # None from a "needed" task
    # A seed file's identifiers, kept out of its screen when nothing caches it: the closure only
    # needs the union of all seeds' (``relevant_files``), so a chunk carries one union.
    mentioned: frozenset[str] = frozenset()


def index_files(
    sources: list[SourcePath],
    jobs: int | None = None,
    *,
    cache=None,
    prescreen: bool = True,
    settings: Settings | None = None,
    file_keys: list[str | None] | None = None,
) -> list[FileResult]:
    """Phase 1 for every source, in source order: cached results, pre-screened files, the rest
    indexed on ``jobs`` CPUs. ``file_keys`` are the sources' cache keys when the caller has them."""
    from evallint import prescreen as screening

    forget_packages()
    jobs = jobs or os.cpu_count() or 1
    extra = screening.extra_seed_words(settings) if settings is not None else frozenset()
    full = not prescreen or extra is None
    extra = extra or frozenset()
    outcomes: list[_Outcome | None] = [None] * len(sources)
    if cache is not None:
        for position, source in enumerate(sources):
            key = file_keys[position] if file_keys is not None else file_key(cache, source)
            outcomes[position] = _cached(cache, key, source, full)
    mentioned: set[str] = set()  # the seeds' identifiers that their screens do not hold

    with FileRounds(jobs) as rounds:

        def compute(work: list[tuple[int, str]]) -> None:
            tasks = [_Task(sources[i], mode, extra, cache) for i, mode in work]
            for (position, _), outcome in zip(work, rounds.map(_index_chunk, tasks, _lost)):
                mentioned.update(outcome.mentioned)
                outcome.mentioned = frozenset()
                if outcome.screen is None:
                    outcome.screen = _indexed_screen(outcomes[position].screen, outcome.result)
                outcomes[position] = outcome
                if cache is not None and outcome.key is not None and outcome.result.internal_error is None:
                    indexed = outcome.result.index is not None or outcome.result.error is not None
                    cache.store(outcome.key, (outcome.screen, outcome.result if indexed else None))

        compute([(i, "index" if full else "screen") for i, outcome in enumerate(outcomes) if outcome is None])
        if full:
            return [outcome.result for outcome in outcomes if outcome is not None]
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


def file_key(cache, source: SourcePath) -> str | None:
    """The cache key of a file's content and name; None where it cannot be read."""
    data = read_bytes(source.absolute)
    if isinstance(data, ParseFailure):
        return None
    name, is_package = module_name_for(source.absolute)
    return cache.file_key(data, source.path, source.absolute, name, is_package)


def _cached(cache, key: str | None, source: SourcePath, full: bool) -> _Outcome | None:
    entry = cache.load(key) if key else None
    if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], prescreen.ScreenFacts)):
        return None
    screen, result = entry
    if isinstance(result, FileResult) and result.path == source.path and result.absolute == source.absolute:
        return _Outcome(key, result, screen)
    if result is None and not full:
        return _Outcome(key, FileResult(source.path, source.absolute), screen)
    return None


def _index_chunk(tasks: list[_Task]) -> list[_Outcome]:
    """A chunk of tasks, each contained; the seeds' identifiers travel as one union, on the first
    outcome (the same names recur from file to file)."""
    crash_on = os.environ.get(CRASH_HOOK_VARIABLE) if in_worker() else None
    done = []
    for task in tasks:
        if crash_on and os.path.basename(task.source.absolute) == crash_on:
            import faulthandler
            import signal

            faulthandler.disable()  # a crash on purpose: no stack dump in the test's output
            os.kill(os.getpid(), signal.SIGSEGV)
        done.append(_process_contained(task))
    if done:
        union = frozenset().union(*(outcome.mentioned for outcome in done))
        for outcome in done:
            outcome.mentioned = frozenset()
        done[0].mentioned = union
    return done


def _process_contained(task: _Task) -> _Outcome:
    try:
        return _process(task)
    except Exception as error:
        if strict():
            raise
        return _lost(task, error)


def _lost(task: _Task, error: BaseException | None) -> _Outcome:
    """A task that raised (a bug of evallint's: the file is unknown to the analysis), or whose
    process crashed (``error`` None: the file is reported as unparsable)."""
    if error is None:
        failure = ParseFailure("cannot parse source: the process analysing this file crashed (a bug in the native parser?)")
        return _Outcome(None, FileResult(task.source.path, task.source.absolute, error=failure), _error_screen())
    if strict():
        raise error
    internal = InternalError("reading", task.source.path, None, describe(error))
    return _Outcome(None, FileResult(task.source.path, task.source.absolute, internal_error=internal), _error_screen())


def _process(task: _Task) -> _Outcome:
    """Read one file, and index, screen or syntax-check it (see ``_Task.mode``)."""
    source = task.source
    name, is_package = module_name_for(source.absolute)
    key = None
    if task.cache is None:
        # Through read_source, which fixes and the flake8 plugin overlay with unwritten text.
        text, cells, failure = read_source(source.absolute)
    else:
        data = read_bytes(source.absolute)
        if isinstance(data, ParseFailure):
            return _Outcome(None, FileResult(source.path, source.absolute, error=data), _error_screen())
        key = task.cache.file_key(data, source.path, source.absolute, name, is_package)
        text, cells, failure = source_from_bytes(source.absolute, data)
    if failure is not None or text is None:
        return _Outcome(key, FileResult(source.path, source.absolute, error=failure), _error_screen())
    if is_test_suite_source(source.path, name, is_package, text):
        # The test suite is outside the analysis (``analysis.relevance``): parsed for EVL001,
        # never indexed, and it names nothing the pre-screen's closure could follow.
        return _Outcome(key, _syntax_checked(source, text, cells), prescreen.ScreenFacts(False, frozenset(), frozenset(), ""))
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


def _syntax_checked(source: SourcePath, text: str, cells: CellMap | None) -> FileResult:
    from evallint.parsing.python import check_syntax

    return FileResult(source.path, source.absolute, cell_map=cells, error=check_syntax(text))


def _error_screen() -> prescreen.ScreenFacts:
    return prescreen.ScreenFacts(True, frozenset(), frozenset(), "")


def _indexed_screen(screened: prescreen.ScreenFacts, result: FileResult) -> prescreen.ScreenFacts:
    """The screen of a file first screened from its text, now that it is indexed."""
    if result.index is None:  # it does not parse after all: it must report EVL001
        return replace(screened, seed=True, toplevel=frozenset(), checked=True)
    return replace(screened, toplevel=prescreen.toplevel_from_index(result.index), checked=True)


def _screened_out(outcome: _Outcome | None) -> bool:
    return outcome is not None and outcome.result.index is None and outcome.result.error is None
