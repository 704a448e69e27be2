"""Evidence that a function or loop evaluates or trains a model, from names alone.

Control evidence (a backward pass inside the region) is computed by the flow
analysis; this module only reads identifiers, so it stays a table lookup.
"""

from __future__ import annotations

import functools
import re

from evallint.analysis.names import identifier_words

EVAL_FUNCTION_WORDS = frozenset(
    {
        "val",
        "valid",
        "validate",
        "validation",
        "validating",
        "eval",
        "evaluate",
        "evaluation",
        "evaluating",
        "test",
        "testing",
        "predict",
        "prediction",
        "predictions",
        "infer",
        "inference",
        "inferencing",
    }
)
EVAL_LOADER_WORDS = frozenset(
    {"val", "valid", "validation", "test", "testing", "dev", "eval", "evaluation", "holdout", "valset", "testset"}
)
_LOADER_PREFIXES = ("val", "valid", "test", "eval", "dev")
_LOADER_SUFFIXES = frozenset({"loader", "loaders", "dl", "set", "data", "dataset", "iter", "batches", "ds"})

MODEL_WORDS = frozenset(
    {
        "model",
        "models",
        "net",
        "network",
        "classifier",
        "encoder",
        "decoder",
        "backbone",
        "discriminator",
        "critic",
        "actor",
        "policy",
        "teacher",
        "student",
        "unet",
        "vae",
        "transformer",
        "netg",
        "netd",
        "detector",
        "segmenter",
    }
)
NOT_MODEL_WORDS = frozenset(
    {
        "fn",
        "fun",
        "func",
        "function",
        "loss",
        "criterion",
        "config",
        "cfg",
        "name",
        "names",
        "path",
        "dir",
        "file",
        "type",
        "class",
        "cls",
        "builder",
        "factory",
        "kwargs",
        "args",
        "output",
        "outputs",
        "optimizer",
        "registry",
        "id",
        "params",
        "state",
        "dict",
        "fp",
        "hook",
        # Verbs: `model.get_classifier()` is a method call, not a forward of a submodule.
        "get",
        "set",
        "add",
        "reset",
        "build",
        "create",
        "make",
        "load",
        "init",
        "compute",
        "configure",
        "setup",
        "read",
        "compile",
        "update",
        "freeze",
        "unfreeze",
        "save",
        "apply",
        "register",
        "prepare",
        "num",
        "count",
        "is",
        "has",
        "extract",
        "wrap",
        "unwrap",
        "convert",
        "export",
        "run",
        "call",
        "download",
        "upload",
        "fetch",
        "attach",
        "callbacks",
        "callback",
    }
)


# `infer_output_dim`, `test_shape`: inferring a shape is not running inference.
SHAPE_WORDS = frozenset({"shape", "shapes", "dim", "dims", "size", "sizes", "dtype", "type", "types", "channels"})


@functools.lru_cache(maxsize=65536)
def is_eval_function_name(name: str, in_test_file: bool) -> bool:
    words = set(identifier_words(name))
    if in_test_file and name.lstrip("_").startswith("test"):
        return False  # a test case of the project's own test suite, not model testing
    return bool(words & EVAL_FUNCTION_WORDS) and not words & SHAPE_WORDS


def is_eval_loader(words: tuple[str, ...]) -> bool:
    for word in words:
        if word in EVAL_LOADER_WORDS:
            return True
        for prefix in _LOADER_PREFIXES:
            if word.startswith(prefix) and word[len(prefix) :] in _LOADER_SUFFIXES:
                return True
    return False


@functools.lru_cache(maxsize=65536)
def looks_like_model(key: str) -> bool:
    """``model``, ``self.net_g``, ``teacher_model``: names people give to modules."""
    if key.split(".")[0] == "cls":
        return False  # class attributes reached from a classmethod are functions, not modules
    last = key.split(".")[-1].split("[")[0]
    if last[:1].isupper() and any(c.islower() for c in last):
        return False  # CamelCase: a class being instantiated, not an instance
    words = identifier_words(last)
    if not words or set(words) & NOT_MODEL_WORDS:
        return False
    # `model`, `ema_model`, `model_ema`, `net_g`: the model word leads or ends the name.
    return words[0] in MODEL_WORDS or words[-1] in MODEL_WORDS


def is_test_module(f) -> bool:
    """``is_test_file`` for an indexed file, judged by its place in the project (its module name),
    not by how its path was written on the command line (`/home/me/tests/proj/train.py`)."""
    return _is_test_place(f.path, f.module, f.is_package)


@functools.lru_cache(maxsize=65536)
def _is_test_place(path: str, module: str, is_package: bool) -> bool:
    name = path.replace("\\", "/").rpartition("/")[2]
    package = module.split(".")[:-1] if not is_package else module.split(".")
    return is_test_file("/".join([*package, name]))


def is_test_suite_module(f) -> bool:
    """A module of the project's test suite: a test module in a tests package, or one that
    defines tests (pytest's `test_*` functions, unittest's `Test*` classes). A script named
    `copy_test.py` that trains and evaluates on the test set is no test suite."""
    return _is_test_suite(f.path, f.module, f.is_package, lambda: (
        any(fn.name.startswith("test") for fn in f.functions) or any(c.name.startswith("Test") for c in f.classes)
    ))


_DEFINES_TESTS = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]+test|^[ \t]*class[ \t]+Test", re.MULTILINE)


def is_test_suite_source(path: str, module: str, is_package: bool, text: str) -> bool:
    """``is_test_suite_module`` for a file not indexed yet, its definitions read from its lines."""
    return _is_test_suite(path, module, is_package, lambda: _DEFINES_TESTS.search(text) is not None)


def _is_test_suite(path: str, module: str, is_package: bool, defines_tests) -> bool:
    if not _is_test_place(path, module, is_package):
        return False
    package = module.split(".")[:-1] if not is_package else module.split(".")
    if any(part in ("tests", "test", "testing") for part in package) or path.endswith("conftest.py"):
        return True
    return defines_tests()


@functools.lru_cache(maxsize=65536)
def is_test_file(path: str) -> bool:
    """A file of the project's own test suite (where `test_*` names test code, not models)."""
    parts = path.replace("\\", "/").split("/")
    name = parts[-1]
    if name.startswith("test_") or name.endswith("_test.py") or name in ("conftest.py", "tests.py"):
        return True
    return any(part in ("tests", "test", "testing") for part in parts[:-1])
