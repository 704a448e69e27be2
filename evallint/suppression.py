"""`# noqa`, `# noqa: EVL101,EVL201` and the file-level `# evallint: noqa`."""

from __future__ import annotations

import io
import re
import tokenize

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_FILE_NOQA = re.compile(r"#\s*evallint\s*:\s*noqa\b", re.IGNORECASE)

_LINE_BREAK = re.compile(r"\r\n|\r|\n")

ALL = frozenset({"*"})


def noqa_map(source: str) -> tuple[bool, dict[int, frozenset[str]]]:
    """(file is suppressed, {line: codes suppressed there, or {"*"} for all})."""
    file_level = False
    lines: dict[int, frozenset[str]] = {}
    for row, text in _comments(source):
        if _FILE_NOQA.search(text) and text.lstrip("#").strip().lower().startswith("evallint"):
            file_level = True
            continue
        match = _NOQA.search(text)
        if match is None:
            continue
        codes = match.group("codes")
        if codes is None:
            lines[row] = ALL
        else:
            lines[row] = frozenset(code.upper() for code in re.split(r"[\s,]+", codes) if code)
    return file_level, lines


def _comments(source: str):
    """Real comments only (a "# noqa" inside a string does not count).

    Rows are counted as Python counts them: a line ends at LF, CRLF or a lone CR.
    """
    try:
        for token in tokenize.generate_tokens(io.StringIO(source, newline=None).readline):
            if token.type == tokenize.COMMENT:
                yield token.start[0], token.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        for row, line in enumerate(_LINE_BREAK.split(source), start=1):
            index = line.find("#")
            if index >= 0:
                yield row, line[index:]


def is_suppressed(code: str, row: int, lines: dict[int, frozenset[str]]) -> bool:
    codes = lines.get(row)
    if codes is None:
        return False
    return codes is ALL or "*" in codes or code in codes
