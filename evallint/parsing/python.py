"""Parse Python source, turning every failure into a ``ParseFailure`` value.

The index reads CPython's own tree (``parse_ast``): it is an order of magnitude
cheaper than libcst, and its messages are the ones Python users know. libcst
(``parse_python``) is used only to build fixes, which must keep formatting; CPython
checks the text first, rejecting at once the inputs on which libcst's native
parser crashes the process or runs for minutes (thousands of nested brackets,
very long operator chains).

CPython accepts some inputs that libcst cannot take: a chain of a few thousand
``and``/``or`` operands is one flat node for CPython but a left-nested tree for
libcst, whose native parser then overflows its stack and kills the process.
And evallint's own passes (positions, the flow walk) recurse over the tree. So
after CPython accepts a file, ``nesting_depth`` estimates from CPython's tree
how deep libcst's tree will be, and a file deeper than ``MAX_NESTING`` is
reported instead of parsed.
"""

from __future__ import annotations

import ast
import codecs
import io
import symtable
import tokenize
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evallint.parsing.lines import split_lines

if TYPE_CHECKING:
    import libcst as cst


@dataclass(frozen=True)
class ParseFailure:
    message: str
    row: int = 1
    column: int = 1
    # Valid Python of a newer version than this one, in a form evallint cannot read here:
    # not a parse error (no EVL001); the run says which Python it needs.
    newer_python: bool = False


def decode_source(data: bytes) -> str | ParseFailure:
    """Decode bytes as Python does: BOM, coding cookie, else UTF-8 (see ``source_encoding``)."""
    encoding = source_encoding(data)
    if isinstance(encoding, ParseFailure):
        return encoding
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as error:
        unknown = _unknown_codec(data)
        if unknown is not None:  # read as UTF-8 in its stead
            return ParseFailure(f"cannot decode source: {unknown}, and the file is not UTF-8 ({error})")
        return ParseFailure(f"cannot decode source as {encoding}: {error}")
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def source_encoding(data: bytes) -> str | ParseFailure:
    """The codec to read a file's bytes with, as Python chooses it: BOM, coding cookie, else UTF-8.

    A cookie may name a codec that is not installed here: ``future_fstrings`` and its kind
    register themselves at interpreter start-up to rewrite new syntax for old interpreters,
    and their files are UTF-8. Such a file is read as UTF-8 (``decode_source`` reports it if
    its bytes are not UTF-8).
    """
    try:
        return tokenize.detect_encoding(io.BytesIO(data).readline)[0]
    except SyntaxError as error:
        message = error.msg if hasattr(error, "msg") else str(error)
        if message.startswith("unknown encoding"):
            return "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
        return ParseFailure(f"cannot decode source: {message}")


def _unknown_codec(data: bytes) -> str | None:
    """Python's complaint about a cookie naming a codec that is not installed ("unknown
    encoding: future_fstrings"); None if the cookie is fine."""
    try:
        tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        return error.msg if hasattr(error, "msg") else str(error)
    return None


# Deeper than any hand-written code (CPython itself allows 100 nested blocks and 200
# nested brackets), and shallow enough that every pass of evallint over the libcst
# tree stays far from Python's default recursion limit of 1000 frames.
MAX_NESTING = 200

# Fields of CPython's tree whose libcst counterpart sits one or two wrapper nodes
# deeper: statement bodies (SimpleStatementLine, IndentedBlock), call arguments
# (Arg), subscripts (SubscriptElement, Index), collection items (Element),
# comparison operands (ComparisonTarget).
_STATEMENT_LISTS = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})
_EXTRA_DEPTH = {
    ("Call", "args"): 1,
    ("Call", "keywords"): 1,
    ("Subscript", "slice"): 2,
    ("List", "elts"): 1,
    ("Tuple", "elts"): 1,
    ("Set", "elts"): 1,
    ("Dict", "keys"): 1,
    ("Dict", "values"): 1,
    ("Compare", "comparators"): 1,
}
_COMPOUND = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.AsyncFor, ast.While,
    ast.With, ast.AsyncWith, ast.Try, ast.Match, *((ast.TryStar,) if hasattr(ast, "TryStar") else ()),
)
# Whitespace and comment nodes hang below the deepest expression (ParenthesizedWhitespace > TrailingWhitespace > Newline).
_WHITESPACE_DEPTH = 3
# An implicitly concatenated string is one constant for CPython but a nest of
# ConcatenatedString nodes for libcst; only a long literal can hide many parts.
_LONG_LITERAL = 128


def nesting_depth(tree: ast.AST, text: str, stop_at: int = MAX_NESTING) -> tuple[int, int]:
    """(estimated depth of libcst's tree for ``tree``, the line where it is reached); stops past ``stop_at``.

    The estimate errs high (each wrapper node libcst adds is counted) and the
    walk is iterative, so that it cannot itself exhaust the recursion limit.
    """
    lines: list[str] | None = None
    deepest, row = 0, 1
    stack: list[tuple[ast.AST, int]] = [(tree, 1 + _WHITESPACE_DEPTH)]
    while stack:
        node, depth = stack.pop()
        kind = type(node).__name__
        if kind in ("Constant", "JoinedStr"):
            if lines is None:
                lines = split_lines(text)
            depth += _string_parts(node, lines) - 1
        if depth > deepest:
            deepest, row = depth, getattr(node, "lineno", row)
            if deepest > stop_at:
                return deepest, row
        for field, value in ast.iter_fields(node):
            children = value if isinstance(value, list) else [value]
            children = [child for child in children if isinstance(child, ast.AST)]
            if not children:
                continue
            step = 1 + _EXTRA_DEPTH.get((kind, field), 0)
            if field in _STATEMENT_LISTS and isinstance(value, list):
                if field == "orelse" and _is_elif(node, children):
                    step = 1
                else:
                    # IndentedBlock (and Else, Finally) around a block; SimpleStatementLine around a simple statement.
                    step += (kind != "Module") + (field in ("orelse", "finalbody"))
                    for child in children:
                        simple = not isinstance(child, _COMPOUND) and field not in ("handlers", "cases")
                        stack.append((child, depth + step + simple))
                    continue
            elif kind == "BoolOp":
                step += len(children) - 1  # libcst nests `a and b and c` as ((a and b) and c)
            elif kind in ("ListComp", "SetComp", "GeneratorExp", "DictComp") and field == "generators":
                step += len(children) - 1  # each `for` clause nests the next one
            for child in children:
                stack.append((child, depth + step))
    return deepest, row


def _is_elif(node: ast.AST, orelse: list[ast.AST]) -> bool:
    """`elif` (an If nested directly in libcst) rather than `else:` holding an indented `if`."""
    return (
        isinstance(node, ast.If)
        and len(orelse) == 1
        and isinstance(orelse[0], ast.If)
        and orelse[0].col_offset == node.col_offset
    )


def _string_parts(node: ast.AST, lines: list[str]) -> int:
    """How many string literals are concatenated in a constant (1 unless its source is long)."""
    if isinstance(node, ast.Constant) and not isinstance(node.value, (str, bytes)):
        return 1
    start, end = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
    if start is None or end is None or not 1 <= start <= end <= len(lines):
        return 1
    if start == end and node.end_col_offset - node.col_offset < _LONG_LITERAL:
        return 1
    # CPython's column offsets count UTF-8 bytes.
    first = lines[start - 1].encode("utf-8", "surrogatepass")
    last = lines[end - 1].encode("utf-8", "surrogatepass")
    if start == end:
        pieces = [first[node.col_offset : node.end_col_offset]]
    else:
        pieces = [first[node.col_offset :], *(line.encode("utf-8", "surrogatepass") for line in lines[start : end - 1])]
        pieces.append(last[: node.end_col_offset])
    segment = b"".join(pieces).decode("utf-8", "surrogatepass")
    if len(segment) < _LONG_LITERAL:
        return 1
    parts = 0
    try:
        # Parenthesized, so that continuation lines carry no indentation tokens.
        for token in tokenize.generate_tokens(io.StringIO(f"({segment})").readline):
            parts += token.type == tokenize.STRING
    except (tokenize.TokenError, SyntaxError):
        return 1
    return max(parts, 1)


def parse_ast(text: str) -> ast.Module | ParseFailure:
    """CPython's tree, for the index; anything evallint cannot take is a ``ParseFailure``."""
    if "\x00" in text:
        row = text.count("\n", 0, text.index("\x00")) + 1
        return ParseFailure("source contains a NUL byte", row, 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except SyntaxError as error:
        failure = ParseFailure(f"SyntaxError: {error.msg}", max(error.lineno or 1, 1), max(error.offset or 1, 1))
        return _newer_python(text, error, failure)
    except (RecursionError, MemoryError, ValueError, OverflowError) as error:
        return ParseFailure(f"source is too deeply nested or too large to parse ({type(error).__name__})")
    return tree


def check_syntax(text: str) -> ParseFailure | None:
    """What ``parse_ast`` reports for a text that is only checked, never indexed: None if it
    parses. The symbol-table pass reads the same parser's output without building CPython's
    tree of Python objects, so it is the cheaper test of a text that parses; a text it rejects
    (or that its stricter checks reject, such as a repeated parameter) is parsed again, so that
    the failure, or the lack of one, is exactly ``parse_ast``'s."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            symtable.symtable(text, "<source>", "exec")
        return None
    except Exception:
        parsed = parse_ast(text)
        return parsed if isinstance(parsed, ParseFailure) else None


def _newer_python(text: str, error: SyntaxError, failure: ParseFailure) -> ast.Module | ParseFailure:
    """The tree of a file in a newer Python's syntax (``parsing.newer``), else the failure."""
    from evallint.parsing import newer

    if not newer.looks_newer(text, error):
        return failure
    valid, tree = newer.as_older_python(text)
    if tree is not None:
        return tree
    if valid:
        return ParseFailure(failure.message, failure.row, failure.column, newer_python=True)
    return failure


def parse_python(text: str) -> cst.Module | ParseFailure:
    """libcst's tree, for fixes (which must keep formatting); CPython checks the text first."""
    import libcst as cst  # slow to import: only runs that build a fix pay for it

    tree = parse_ast(text)
    if isinstance(tree, ParseFailure):
        return tree
    depth, row = nesting_depth(tree, text)
    if depth > MAX_NESTING:
        return ParseFailure(f"source is nested too deeply for evallint to analyse (more than {MAX_NESTING} levels)", row)
    try:
        return cst.parse_module(text)
    except cst.ParserSyntaxError as error:
        return ParseFailure(f"SyntaxError: {error.message}", max(error.raw_line, 1), max(error.raw_column + 1, 1))
    except (RecursionError, MemoryError) as error:
        return ParseFailure(f"source is too deeply nested or too large to parse ({type(error).__name__})")
    except Exception as error:  # libcst raises a handful of internal error types on odd input
        return ParseFailure(f"cannot parse source: {type(error).__name__}: {error}")
