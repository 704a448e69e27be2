"""`--fix` and `--diff`: apply the fixes of diagnostics, re-lint, repeat; then write or show the result.

As ruff does, fixing is a loop over source text held in memory: lint, apply
every applicable fix whose edits do not collide (later edits first, so earlier
positions stay valid), check that the result still parses, lint again, until
nothing is left to fix (at most ``MAX_ROUNDS`` rounds). Re-linting reads the
fixed text through an overlay instead of the disk, so `--diff` writes nothing
and `--fix` writes each changed file once, at the end, atomically.

Writing keeps what the file was: its encoding (coding cookie), BOM, newline
style (fixes only insert text libcst generated in the file's own newline
style) and permissions.
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
from evallint.types import Diagnostic, Edit, Fix

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


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits (1-based rows and columns into ``text``), later ones first."""
    starts = [0]
    for line in split_lines(text):
        starts.append(starts[-1] + len(line))

    def offset(location) -> int:
        if location.row - 1 >= len(starts):
            return len(text)
        return min(starts[location.row - 1] + location.column - 1, len(text))

    spans = sorted(((offset(e.location), offset(e.end_location), e.content) for e in edits), reverse=True)
    for start, end, content in spans:
        text = text[:start] + content + text[end:]
    return text


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
    from evallint.parsing.python import ParseFailure, parse_python

    unsafe = bool(getattr(options, "unsafe_fixes", False))
    outcome = FixOutcome(list(report.diagnostics))
    states: dict[str, _FileState] = {}
    skipped_notebooks: Counter = Counter()
    diagnostics = report.diagnostics
    for round_number in range(MAX_ROUNDS):
        by_path: dict[str, list[Diagnostic]] = {}
        for diagnostic in diagnostics:
            result = report.results.get(diagnostic.path)
            if result is None:
                continue
            if result.cell_map is not None:
                if round_number == 0 and _fixable_code(diagnostic.code):
                    skipped_notebooks[diagnostic.path] += 1
                continue
            if is_applicable(diagnostic.fix, unsafe):
                by_path.setdefault(diagnostic.path, []).append(diagnostic)
        changed = False
        for path, file_diagnostics in sorted(by_path.items()):
            state = states.get(path) or _load(path, report.results[path].absolute, outcome.notes)
            if state is None:
                continue
            states[path] = state
            chosen = select_fixes(file_diagnostics, unsafe)
            new_text = apply_edits(state.text, [e for d in chosen for e in d.fix.edits])
            if new_text == state.text:
                continue
            parsed = parse_python(new_text)
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
    for path, count in sorted(skipped_notebooks.items()):
        outcome.notes.append(f"{path}: {count} finding(s) not fixed: evallint does not rewrite notebooks")
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


def _fixable_code(code: str) -> bool:
    from evallint.rules import ALL_RULES

    rule = ALL_RULES.get(code)
    return rule is not None and rule.fix_safety != "none"


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
    from evallint.engine import overlaid_sources, run

    with overlaid_sources(texts):
        # One process: worker processes would read the files from disk, not the overlay.
        return run(options.paths, settings, jobs=1, unsafe_fix_edits=options.unsafe_fixes).diagnostics


def _unified_diff(state: _FileState) -> str:
    lines = difflib.unified_diff(
        split_lines(state.original), split_lines(state.text), fromfile=f"a/{state.path}", tofile=f"b/{state.path}"
    )
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
