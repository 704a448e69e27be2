"""Parse Python source with libcst, turning every failure into a ``ParseFailure`` value.

CPython's own parser runs first: it is an order of magnitude cheaper than
libcst and rejects at once the inputs on which libcst's native parser crashes
the process or runs for minutes (thousands of nested brackets, very long
operator chains). Its messages are also the ones Python users know.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass

import libcst as cst


@dataclass(frozen=True)
class ParseFailure:
    message: str
    row: int = 1
    column: int = 1


def decode_source(data: bytes) -> str | ParseFailure:
    """Decode bytes as Python does: BOM, coding cookie, else UTF-8."""
    import io
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        return ParseFailure(f"cannot decode source: {error.msg if hasattr(error, 'msg') else error}")
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as error:
        return ParseFailure(f"cannot decode source as {encoding}: {error}")
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def parse_python(text: str) -> cst.Module | ParseFailure:
    if "\x00" in text:
        row = text.count("\n", 0, text.index("\x00")) + 1
        return ParseFailure("source contains a NUL byte", row, 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
    except SyntaxError as error:
        return ParseFailure(
            f"SyntaxError: {error.msg}", max(error.lineno or 1, 1), max(error.offset or 1, 1)
        )
    except (RecursionError, MemoryError, ValueError, OverflowError) as error:
        return ParseFailure(f"source is too deeply nested or too large to parse ({type(error).__name__})")
    try:
        return cst.parse_module(text)
    except cst.ParserSyntaxError as error:
        return ParseFailure(f"SyntaxError: {error.message}", max(error.raw_line, 1), max(error.raw_column + 1, 1))
    except (RecursionError, MemoryError) as error:
        return ParseFailure(f"source is too deeply nested or too large to parse ({type(error).__name__})")
    except Exception as error:  # libcst raises a handful of internal error types on odd input
        return ParseFailure(f"cannot parse source: {type(error).__name__}: {error}")
