"""Which files need an index at all: a cheap, conservative pre-screen.

Every finding needs *region evidence* somewhere on its path: an evaluation name
(``validate``, ``val_loader``), a training step (``backward``, ``step``), a
mode switch (``eval``, ``train``), a grad switch (``no_grad``,
``set_grad_enabled``), ``from_pretrained``, a Lightning or HF ``Trainer`` hook.
A file whose words contain none of these is a *seed-free* file. Seed-free files
still matter when the analysis of a seed file can reach them, or they it:

- a seed file names a top-level function or class the file defines (a callee:
  its summary replaces "unknown"),
- the file names a top-level function or class a relevant file defines (a
  caller: it gives that function its entry state and makes it a non-root; a
  subclass: ``self.hook()`` may dispatch to it),
- a relevant file names the file's module (imports and re-exports resolve
  through it; two files with one module name make each other ambiguous).

``relevant_files`` closes the seed set under these three relations, each
judged on raw words and identifiers (comments and strings included, so every
test errs towards indexing). A seed-free file is screened from its text alone
(its top-level definitions found line by line, again erring towards more
names), so that every file is parsed once: an index for the relevant ones, a
syntax check for the rest (so a broken file still reports EVL001).

The screen is disabled (everything is relevant) when the settings add
evaluation-function patterns, which cannot be matched against words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from evallint.analysis import regions, torch_api

_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")  # the words of ``identifier_words`` (digits dropped)
_IDENTIFIER = re.compile(r"[^\W\d]\w*")

# Words that mark region evidence, a mode or grad switch, or a framework-managed hook. Each torch_api
# table entry contributes at least one of them (a test keeps it so).
_EVIDENCE_WORDS = frozenset(
    {
        "eval",
        "train",
        "training",
        "step",
        "backward",
        "grad",
        "autograd",
        "inference",
        "pretrained",
        "trainer",
        "lightning",
        "reveal",
        # Loaded weights make a forward an evaluation; a whole-model `torch.load` alone is no seed.
        "load_state_dict",
        "weights",  # a library model built with its pretrained weights: `resnet18(weights=...)`
    }
)


def _loader_words() -> frozenset[str]:
    prefixes = getattr(regions, "_LOADER_PREFIXES", ())
    suffixes = getattr(regions, "_LOADER_SUFFIXES", ())
    return frozenset(prefix + suffix for prefix in prefixes for suffix in suffixes)


SEED_WORDS = (
    _EVIDENCE_WORDS
    | regions.EVAL_FUNCTION_WORDS
    | regions.EVAL_LOADER_WORDS
    | frozenset(getattr(regions, "_LOADER_PREFIXES", ()))
    | _loader_words()
)


def evidence_names() -> list[str]:
    """The (qualified) names the analysis recognises as evidence; the test checks each has a seed word."""
    tables = [
        torch_api.GRAD_CONTEXT_FACTORIES,
        torch_api.SET_GRAD_ENABLED,
        torch_api.MODE_METHODS,
        torch_api.BACKWARD_METHODS,
        torch_api.STEP_METHODS,
        torch_api.BACKWARD_FUNCTIONS,
        torch_api.PRETRAINED_METHODS,
        torch_api.LIGHTNING_EVAL_HOOKS,
        torch_api.LIGHTNING_TRAIN_HOOKS,
        torch_api.LIGHTNING_BASES,
        torch_api.HF_TRAINER_BASES,
        torch_api.GRAD_REQUIRING_FUNCTIONS,
    ]
    return sorted(name for table in tables for name in table)


@dataclass(frozen=True)
class ScreenFacts:
    """What the closure needs from one file; plain data, cached with the file."""

    seed: bool
    toplevel: frozenset[str]  # functions and classes defined outside any function or class
    identifiers: frozenset[str]  # every identifier-like token, comments and strings included
    module_last: str  # the last component of the file's dotted module name
    checked: bool = True  # its syntax was checked (False: screened from the text alone)


def words_of(identifiers: frozenset[str]) -> Iterator[str]:
    """The lower-cased words of a text, from its identifiers (letters never cross an identifier's
    edge, so these are the words of the whole text, found once per distinct identifier),
    lower-cased one at a time, so that a search can stop at the first it wants."""
    return map(str.lower, _WORD.findall(" ".join(identifiers)))


def is_seed(identifiers: frozenset[str], extra_words: frozenset[str] = frozenset()) -> bool:
    seeds = SEED_WORDS | extra_words if extra_words else SEED_WORDS
    # A seed word (lower-case letters only) that is an identifier of its own (`eval`, `step`,
    # `backward`) is one of the identifiers' words: most seed files are told by one set
    # intersection, without splitting every identifier into words.
    return not seeds.isdisjoint(identifiers) or not seeds.isdisjoint(words_of(identifiers))


def extra_seed_words(settings) -> frozenset[str] | None:
    """Seed words the settings add; None when the settings make the screen unusable."""
    if getattr(settings, "eval_function_patterns", ()):
        return None
    names = getattr(settings, "training_step_calls", ()) or ()
    return frozenset(word.lower() for name in names for word in _WORD.findall(name))


def screen_from_text(text: str, identifiers: frozenset[str], module_name: str) -> ScreenFacts:
    """A seed-free file's facts without parsing it (its syntax is checked later, once)."""
    return ScreenFacts(False, toplevel_from_text(text), identifiers, module_name.rsplit(".", 1)[-1], False)


_DEFINITION = re.compile(r"[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+([^\W\d]\w*)")


def toplevel_from_text(text: str) -> frozenset[str]:
    """Names of functions and classes defined outside any function or class, from the lines alone.

    Never fewer than the parsed module's: a definition counts unless an open ``def``/``class``
    line above it is indented less, and any line indented no deeper closes that block (a
    statement at the top level always does). Lines inside strings or brackets can only close
    blocks early or add names, never hide a real top-level definition.
    """
    names: set[str] = set()
    open_blocks: list[int] = []
    for line in text.splitlines():
        stripped = line.lstrip(" \t")
        if not stripped or stripped[0] == "#":
            continue
        indent = len(line[: len(line) - len(stripped)].expandtabs(8))
        while open_blocks and indent <= open_blocks[-1]:
            open_blocks.pop()
        match = _DEFINITION.match(line)
        if match is not None:
            if not open_blocks:
                names.add(match.group(1))
            open_blocks.append(indent)
    return frozenset(names)


def syntax_ok(text: str) -> bool:
    """Does CPython accept the text? (The index reports why not, as EVL001.)"""
    from evallint.parsing.python import check_syntax

    return check_syntax(text) is None


def toplevel_from_index(index) -> frozenset[str]:
    """The same names, read from a file's ``ir.FileIndex``."""
    names = {fn.name for fn in index.functions if fn.parent is None and fn.class_name is None and fn.qualname != "<module>"}
    names |= {cls.name for cls in index.classes if "." not in cls.qualname}
    return frozenset(names)


def relevant_files(facts: dict[str, ScreenFacts], mentioned: frozenset[str] | set[str] = frozenset()) -> set[str]:
    """Close the seed files under "names a definition of" (both ways) and "names the module of".
    ``mentioned`` holds identifiers of seed files that their screens leave out (a run without a
    cache sends one union of them per chunk of files).

    The relations are tried cheapest first. A file that names a definition of a relevant file is
    found by one test of its identifiers against every relevant definition; only when no file
    is found that way are the relevant files' identifiers searched for the few names the
    remaining files define (their definitions and module names), each relevant file once. The
    order changes nothing (the closure is the least set closed under both), but searching every
    relevant file's identifiers whole cost much more: most of a project's files are
    seeds, and most of the rest name something a seed defines.
    """
    relevant = {key for key, item in facts.items() if item.seed}
    pending = set(facts) - relevant
    defined: set[str] = set()
    for key in relevant:
        defined |= facts[key].toplevel
    named: set[str] = set()  # names that relevant files mention and pending files define or are
    unsearched = set(relevant)
    unsearched_mentioned = mentioned
    while pending:
        fresh = {key for key in pending if not facts[key].identifiers.isdisjoint(defined)}
        if not fresh:
            wanted: set[str] = set()
            for key in pending:
                wanted |= facts[key].toplevel
                wanted.add(facts[key].module_last)
            for key in unsearched:
                named |= facts[key].identifiers & wanted
            named |= wanted.intersection(unsearched_mentioned)
            unsearched, unsearched_mentioned = set(), frozenset()
            fresh = {key for key in pending if not facts[key].toplevel.isdisjoint(named) or facts[key].module_last in named}
            if not fresh:
                break
        relevant |= fresh
        pending -= fresh
        unsearched |= fresh
        for key in fresh:
            defined |= facts[key].toplevel
    return relevant


_ASCII_PUNCTUATION = bytes(c for c in range(128) if not (chr(c).isalnum() or chr(c) == "_"))
_PUNCTUATION_TO_SPACES = bytes.maketrans(_ASCII_PUNCTUATION, b" " * len(_ASCII_PUNCTUATION))


def identifiers_of(text: str) -> frozenset[str]:
    """Every identifier-like token of a text. An ASCII text (nearly every source file) is split
    at its punctuation instead, far cheaper than the regex; the tokens that then start with a
    digit (``2d``, ``1e5``) add no word the regex misses, and no name that code can refer to."""
    if text.isascii():
        return frozenset(text.encode("ascii").translate(_PUNCTUATION_TO_SPACES).decode("ascii").split())
    return frozenset(_IDENTIFIER.findall(text))
