"""Files in a newer Python than the one evallint runs on, made readable by this one's parser.

CPython's parser knows only its own version's grammar, but pre-commit and CI often run an
older interpreter than the code targets. libcst's parser knows the newer grammars. So when
CPython rejects a file that looks like it uses newer syntax, libcst parses it, and each
construct this Python lacks is blanked out of the text, byte for byte, keeping every line and
column of the rest:

- type parameters (PEP 695, 696): ``def f[T](x: T)`` reads as ``def f   (x: T)``;
- ``type`` statements (PEP 695): ``type Alias = list[int]`` reads as ``pass``;
- f-strings that only PEP 701 allows (``f"{"nested"}"``) read as a string of blanks, or, over
  several lines, as an empty tuple ``(...)``.

None of these holds a model call that the analysis could miss, except an expression inside
such an f-string. What remains is analysed as usual; findings keep their positions.
"""

from __future__ import annotations

import ast
import re
import warnings

# Cheap signs that a syntax error may be newer syntax; without one, libcst is not asked.
_GENERIC_DEFINITION = re.compile(r"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+\w+[ \t]*\[", re.MULTILINE)
_TYPE_STATEMENT = re.compile(r"^[ \t]*type[ \t]+\w+[ \t]*[\[=]", re.MULTILINE)
_FSTRING_START = re.compile(r"(?<![\w'\"])(?:[fF][rR]?|[rR][fF])['\"]")
# Inputs on which libcst's native parser may crash or run for minutes (see parsing.python).
_MAX_BRACKET_DEPTH = 150
_MAX_BOOLEAN_OPERATORS = 1000
_MAX_SIZE = 2_000_000


def looks_newer(text: str, error: SyntaxError) -> bool:
    """Might the text be valid in a newer Python? (Only then is the slower parser tried.)"""
    if len(text) > _MAX_SIZE or "nested" in (error.msg or ""):
        return False
    lines = text.splitlines()
    row = error.lineno or 0
    around = "\n".join(lines[max(row - 3, 0) : row + 1])
    if not (_GENERIC_DEFINITION.search(text) or _TYPE_STATEMENT.search(text) or _FSTRING_START.search(around)):
        return False
    return _bracket_depth(text) <= _MAX_BRACKET_DEPTH and text.count(" and ") + text.count(" or ") <= _MAX_BOOLEAN_OPERATORS


def _bracket_depth(text: str) -> int:
    depth = deepest = 0
    for char in text:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth = max(depth - 1, 0)
    return deepest


def as_older_python(text: str) -> tuple[bool, ast.Module | None]:
    """Is the text valid for libcst's newest grammar, and CPython's tree of it with the newer
    constructs blanked out (None if what is left still does not parse here)?"""
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider

    try:
        module = cst.parse_module(text)
        positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    except Exception:  # a syntax error for libcst too, or one of its internal errors
        return False, None
    from evallint.parsing.lines import split_lines

    starts = [0]
    for line in split_lines(text):
        starts.append(starts[-1] + len(line))
    chars = list(text)

    def span(node) -> tuple[int, int]:
        where = positions[node]
        return starts[where.start.line - 1] + where.start.column, starts[where.end.line - 1] + where.end.column

    def blank(first: int, end: int) -> None:
        for at in range(first, end):
            if chars[at] not in "\r\n":
                chars[at] = " " * len(chars[at].encode("utf-8", "surrogatepass"))

    kinds = (cst.TypeParameters, cst.TypeAlias, cst.FormattedString)
    # Outermost first: what lies inside a construct already blanked out is gone with it.
    found = sorted(((span(node), node) for node in positions if isinstance(node, kinds)),
                   key=lambda item: (item[0][0], -item[0][1]))
    done_until = 0
    for (first, end), node in found:
        if first < done_until:
            continue
        if isinstance(node, cst.FormattedString) and _older_python_reads(text[first:end]):
            continue
        if isinstance(node, cst.TypeAlias):
            end = span(node.value)[1]  # a `;` after it stays
        blank(first, end)
        done_until = end
        if isinstance(node, cst.TypeAlias):
            chars[first : first + 4] = ["pass", "", "", ""]  # over the keyword `type`
        elif isinstance(node, cst.FormattedString):
            multiline = "\n" in text[first:end] or "\r" in text[first:end]
            chars[first], chars[end - 1] = ("(", ")") if multiline else ('"', '"')
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return True, ast.parse("".join(chars))
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return True, None


def _older_python_reads(literal: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(f"({literal}\n)")
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return False
    return True
