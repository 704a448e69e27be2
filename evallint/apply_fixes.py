"""`--fix` and `--diff`: apply the fixes of diagnostics, re-lint, repeat; then write or show the result.

As ruff does, fixing is a loop over source text held in memory: lint, apply
every applicable fix whose edits do not collide (later edits first, so earlier
positions stay valid), check that the result still parses, lint again, until
nothing is left to fix (at most ``MAX_ROUNDS`` rounds). Re-linting reads the
fixed text through an overlay instead of the disk, so `--diff` writes nothing
and `--fix` writes each changed file once, at the end, atomically.

Writing keeps what the file was: its encoding (coding cookie), BOM, newline
style (fixes only insert text libcst generated in the file's own newline
style) and permissions. Notebooks are fixed as ruff fixes them: the code cells
are rewritten, outputs, metadata and the JSON layout kept
(``evallint.notebook_writer``).
"""

from __future__ import annotations

import contextlib
import difflib
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field

from evallint.parsing.python import split_lines
from evallint.edits import apply_edits
from evallint.types import UNSAFE_EDITS, UNSAFE_PLANNED, Diagnostic, Fix

MAX_ROUNDS = 10


@dataclass
class FixOutcome:
    remaining: list[Diagnostic]
    fixed: dict[str, Counter] = field(default_factory=dict)  # display path -> code -> count
    diff: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def fixed_count(self) -> int:
        return sum(sum(counts.values()) for counts in self.fixed.values())


@dataclass
class _FileState:
    path: str
    absolute: str
    original: str
    text: str
    encoding: str


def is_applicable(fix: Fix | None, unsafe: bool) -> bool:
    return fix is not None and (fix.applicability == "safe" or unsafe)


def select_fixes(diagnostics: list[Diagnostic], unsafe: bool) -> list[Diagnostic]:
    """The applicable fixes of one file whose edits touch no edit already chosen (the rest wait a round)."""
    chosen: list[Diagnostic] = []
    taken: list[tuple] = []
    candidates = [d for d in diagnostics if is_applicable(d.fix, unsafe)]
    # Safe fixes go first, alone: `model.eval` -> `model.eval()` can settle an EVL101 in the same
    # function, whose unsafe fix would otherwise insert a second `model.eval()`.
    if any(d.fix.applicability == "safe" for d in candidates):
        candidates = [d for d in candidates if d.fix.applicability == "safe"]
    candidates.sort(key=lambda d: (min(e.location for e in d.fix.edits), d.code))
    for diagnostic in candidates:
        spans = [(e.location, e.end_location) for e in diagnostic.fix.edits]
        # Closed intervals: two insertions at one point collide too (both would add `import torch`).
        if any(start <= t_end and t_start <= end for start, end in spans for t_start, t_end in taken):
            continue
        if diagnostic.fix in {d.fix for d in chosen}:
            continue
        chosen.append(diagnostic)
        taken.extend(spans)
    return chosen


def apply_fixes(report, options, settings=None) -> FixOutcome:
    """Fix what can be fixed; return the diagnostics that remain (and what was fixed)."""
    from evallint.parsing.python import ParseFailure

    unsafe = bool(getattr(options, "unsafe_fixes", False))
    outcome = FixOutcome(list(report.diagnostics))
    states: dict[str, _FileState] = {}
    diagnostics = report.diagnostics
    for _round in range(MAX_ROUNDS):
        by_path: dict[str, list[Diagnostic]] = {}
        for diagnostic in diagnostics:
            result = report.results.get(diagnostic.path)
            if result is None:
                continue
            if is_applicable(diagnostic.fix, unsafe) and diagnostic.fix.edits:
                by_path.setdefault(diagnostic.path, []).append(diagnostic)
        changed = False
        for path, file_diagnostics in sorted(by_path.items()):
            result = report.results[path]
            if result.cell_map is not None:
                state = states.get(path) or _load_notebook(path, result.absolute, outcome.notes)
            else:
                state = states.get(path) or _load(path, result.absolute, outcome.notes)
            if state is None:
                continue
            states[path] = state
            if isinstance(state, _NotebookState):
                chosen, new_text = _fix_cells(state, file_diagnostics, unsafe, outcome.notes)
            else:
                chosen = select_fixes(file_diagnostics, unsafe)
                new_text = apply_edits(state.text, [e for d in chosen for e in d.fix.edits])
            if new_text == state.text:
                continue
            parsed = _parse_fixed(path, new_text, isinstance(state, _NotebookState))
            if isinstance(parsed, ParseFailure):
                codes = ", ".join(sorted({d.code for d in chosen}))
                outcome.notes.append(
                    f"{path}: not fixed: applying the {codes} fixes would not parse ({parsed.message}); "
                    "please report this as an evallint bug"
                )
                continue
            state.text = new_text
            outcome.fixed.setdefault(path, Counter()).update(d.code for d in chosen)
            changed = True
        if not changed:
            break
        diagnostics = _relint(options, settings, {s.absolute: s.text for s in states.values()})
    else:
        if any(is_applicable(d.fix, unsafe) for d in diagnostics):
            outcome.notes.append(f"stopped fixing after {MAX_ROUNDS} rounds; some fixes were not applied")
    changed_states = [s for s in states.values() if s.text != s.original]
    if getattr(options, "diff", False):
        outcome.diff = "".join(_unified_diff(state) for state in sorted(changed_states, key=lambda s: s.path))
    elif getattr(options, "fix", False):
        for state in changed_states:
            error = write_atomically(state.absolute, state.text, state.encoding)
            if error is not None:
                outcome.notes.append(f"{state.path}: not written: {error}")
                outcome.fixed.pop(state.path, None)
    outcome.remaining = diagnostics
    return outcome


@dataclass
class _NotebookState(_FileState):
    """A notebook being fixed: ``text`` is its JSON; only code cells' sources change."""


def _load_notebook(path: str, absolute: str, notes: list[str]) -> _NotebookState | None:
    from evallint.notebook_writer import NotebookText, NotebookWriteError

    try:
        with open(absolute, "rb") as handle:
            text = handle.read().decode("utf-8")
        NotebookText.parse(text)
    except (OSError, UnicodeDecodeError, NotebookWriteError) as error:
        notes.append(f"{path}: not fixed: cannot read it ({getattr(error, 'strerror', None) or error})")
        return None
    return _NotebookState(path, absolute, text, text, "utf-8")


def _fix_cells(state: _NotebookState, diagnostics: list[Diagnostic], unsafe: bool, notes: list[str]):
    """Apply one round of fixes cell by cell (a fix's edits all lie in its diagnostic's cell)."""
    from evallint.notebook_writer import NotebookText, NotebookWriteError, apply_cell_edits

    notebook = NotebookText.parse(state.text)
    by_cell: dict[int, list[Diagnostic]] = {}
    for diagnostic in diagnostics:
        if diagnostic.cell is not None:
            by_cell.setdefault(diagnostic.cell, []).append(diagnostic)
    chosen_all: list[Diagnostic] = []
    for cell, cell_diagnostics in sorted(by_cell.items()):
        chosen = select_fixes(cell_diagnostics, unsafe)
        try:
            fixed = apply_cell_edits(notebook.cell_source(cell), [e for d in chosen for e in d.fix.edits])
        except NotebookWriteError as error:
            notes.append(f"{state.path}:cell {cell}: not fixed: {error}")
            continue
        notebook.set_cell_source(cell, fixed)
        chosen_all.extend(chosen)
    return chosen_all, notebook.dump() if chosen_all else state.text


def _parse_fixed(path: str, text: str, notebook: bool):
    """The fixed text parsed (a notebook's code cells joined as the linter joins them), or the failure."""
    from evallint.parsing.python import ParseFailure, parse_python

    if notebook:
        from evallint.parsing.notebook import NotebookError, notebook_to_python

        try:
            text, _ = notebook_to_python(text.encode("utf-8"))
        except NotebookError as error:
            return ParseFailure(str(error))
    return parse_python(text)


def _load(path: str, absolute: str, notes: list[str]) -> _FileState | None:
    from evallint.parsing.python import ParseFailure, decode_source, source_encoding

    try:
        with open(absolute, "rb") as handle:
            data = handle.read()
    except OSError as error:
        notes.append(f"{path}: not fixed: cannot read it ({error.strerror})")
        return None
    text = decode_source(data)
    encoding = source_encoding(data)
    if isinstance(text, ParseFailure) or isinstance(encoding, ParseFailure):
        return None
    return _FileState(path, absolute, text, text, encoding)


def _relint(options, settings, texts: dict[str, str]) -> list[Diagnostic]:
    from evallint.engine import run
    from evallint.sources import overlaid_sources

    with overlaid_sources(texts):
        # One process: worker processes would read the files from disk, not the overlay.
        return run(options.paths, settings, jobs=1, unsafe_fixes=UNSAFE_EDITS if options.unsafe_fixes else UNSAFE_PLANNED).diagnostics


def _unified_diff(state: _FileState) -> str:
    if isinstance(state, _NotebookState):
        return _notebook_diff(state)
    return _diff_text(state.original, state.text, state.path)


def _notebook_diff(state: _NotebookState) -> str:
    """One diff per changed code cell, named as ruff names them (``nb.ipynb:cell 3``)."""
    from evallint.notebook_writer import NotebookText

    before, after = NotebookText.parse(state.original), NotebookText.parse(state.text)
    parts = []
    for number in range(1, len(after.document["cells"]) + 1):
        old, new = before.cell_source(number), after.cell_source(number)
        if old != new:
            parts.append(_diff_text(old, new, f"{state.path}:cell {number}"))
    return "".join(parts)


def _diff_text(original: str, text: str, name: str) -> str:
    lines = difflib.unified_diff(split_lines(original), split_lines(text), fromfile=f"a/{name}", tofile=f"b/{name}")
    out = []
    for line in lines:
        # Show a missing final newline as diff does, and keep CRLF visible only as content.
        if not line.endswith(("\n", "\r")):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


def write_atomically(absolute: str, text: str, encoding: str) -> str | None:
    """Write via a temporary file in the same directory and os.replace; None on success, else why not."""
    try:
        data = text.encode(encoding)
    except (UnicodeEncodeError, LookupError) as error:
        return f"the fixed text cannot be encoded as {encoding} ({error})"
    directory = os.path.dirname(absolute) or "."
    try:
        mode = os.stat(absolute).st_mode & 0o7777
        handle, temporary = tempfile.mkstemp(prefix=".evallint-", suffix=".tmp", dir=directory)
    except OSError as error:
        return error.strerror or str(error)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, absolute)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        return error.strerror or str(error)
    except BaseException:
        # Interrupted (Ctrl-C): the original is intact; leave no temporary file behind either.
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return None


def print_notes(notes: list[str]) -> None:
    for note in notes:
        print(f"evallint: note: {note}", file=sys.stderr)
