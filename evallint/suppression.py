"""`# noqa`, `# noqa: EVL101,EVL201`, and the file-level `# evallint: noqa` / `# evallint: noqa: EVL201`.

Codes are matched exactly, as ruff matches them: `# noqa: EVL1` names no rule and suppresses
nothing (the unused-noqa rule, EVL901, reports it). A blanket `# noqa` suppresses every code on
its line; a file-level directive with codes suppresses only those codes, anywhere in the file.
Codes of other tools (`E501`) are kept and left alone.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass

_NOQA = re.compile(
    r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:(?:\s*,\s*|\s+)[A-Z]+[0-9]+)*))?", re.IGNORECASE
)
_FILE_NOQA = re.compile(
    r"#\s*evallint\s*:\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:(?:\s*,\s*|\s+)[A-Z]+[0-9]+)*))?", re.IGNORECASE
)
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)

_LINE_BREAK = re.compile(r"\r\n|\r|\n")

ALL = frozenset({"*"})


@dataclass(frozen=True)
class NoqaComment:
    """One `# noqa` directive: where it is (1-based row; 0-based character offsets of the
    directive in its line), and the codes it names (None: a blanket `# noqa`)."""

    row: int
    start: int
    end: int
    codes: tuple[str, ...] | None


@dataclass(frozen=True)
class Suppressions:
    file_codes: frozenset[str]  # ALL for a blanket file-level directive
    lines: dict[int, frozenset[str]]  # row -> codes (ALL for a blanket `# noqa`)
    comments: tuple[NoqaComment, ...] = ()

    def suppresses(self, code: str, row: int) -> bool:
        return _names(self.file_codes, code) or _names(self.lines.get(row), code)


NONE = Suppressions(frozenset(), {})


def _names(codes: frozenset[str] | None, code: str) -> bool:
    return codes is not None and ("*" in codes or code in codes)


def split_codes(text: str | None) -> tuple[str, ...]:
    return tuple(code.upper() for code in _CODE.findall(text or ""))


def read_suppressions(source: str) -> Suppressions:
    file_codes: set[str] = set()
    lines: dict[int, frozenset[str]] = {}
    comments = []
    for row, column, text in _comments(source):
        body = text.lstrip("#").strip().lower()
        file_match = _FILE_NOQA.match(text)
        if file_match is not None and body.startswith("evallint"):
            codes = file_match.group("codes")
            file_codes |= set(split_codes(codes)) if codes else ALL
            continue
        match = _NOQA.search(text)
        if match is None:
            continue
        codes = split_codes(match.group("codes")) if match.group("codes") else None
        lines[row] = ALL if codes is None else lines.get(row, frozenset()) | frozenset(codes)
        comments.append(NoqaComment(row, column + match.start(), column + match.end(), codes))
    return Suppressions(frozenset(file_codes), lines, tuple(comments))


def _comments(source: str):
    """Real comments only (a "# noqa" inside a string does not count): (row, column, text).

    Rows are counted as Python counts them: a line ends at LF, CRLF or a lone CR.
    """
    try:
        for token in tokenize.generate_tokens(io.StringIO(source, newline=None).readline):
            if token.type == tokenize.COMMENT:
                yield token.start[0], token.start[1], token.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        for row, line in enumerate(_LINE_BREAK.split(source), start=1):
            index = line.find("#")
            if index >= 0:
                yield row, index, line[index:]
