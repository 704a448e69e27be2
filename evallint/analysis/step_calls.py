"""Calls that run a training step, told by the code of the call alone: a backward pass, an
optimizer's ``step()``, a call given an optimizer and a loss (``loss_scaler(loss, optimizer)``).

``Evidence.is_training_call`` memoises the verdict per call and adds what needs the project (a
call of a project function is judged by its own body, not by its arguments).
"""

from __future__ import annotations

import functools

from evallint.analysis import ir, torch_api
from evallint.analysis.names import identifier_words


def training_call_kind(call: ir.Call, qualified: str | None, extra_step_calls: frozenset[str]) -> str | None:
    """"backward", "step" or None; ``qualified`` is the callee's absolute name, if it has one, and
    ``extra_step_calls`` the names the user's settings declare training steps."""
    method = call.method
    if method in ("backward", "manual_backward"):
        return "backward"
    if call.func is not None:
        if qualified in torch_api.BACKWARD_FUNCTIONS:
            return "backward"
        if call.func in extra_step_calls or qualified in extra_step_calls:
            return "step"
    if method in torch_api.STEP_METHODS and isinstance(call.receiver, ir.RefValue):
        if names_an_optimizer(call.receiver.key.rpartition(".")[2]):
            return "step"
    return None


@functools.lru_cache(maxsize=1 << 16)
def names_an_optimizer(receiver: str) -> bool:
    """Is ``receiver`` (the last part of a key) named like what ``.step()`` trains with?"""
    words = set(identifier_words(receiver))
    return bool(words & torch_api.STEP_RECEIVER_WORDS) and not words & torch_api.STEP_RECEIVER_EXCLUDE_WORDS


def hands_over_an_optimizer(call: ir.Call) -> bool:
    """A call given an optimizer and something else computed (a loss), whose name says nothing of
    saving, loading, scheduling or setting up: it runs the training step."""
    if len(call.args) + len(call.kwargs) < 2:
        return False
    values = call.arguments
    if not any(isinstance(v, ir.RefValue) and names_an_optimizer(v.key.rpartition(".")[2]) for v in values):
        return False
    if not any(isinstance(v, (ir.CallValue, ir.MixValue)) or (isinstance(v, ir.RefValue) and "loss" in v.key) for v in values):
        return False
    name = (call.func or call.method or "").rpartition(".")[2]
    return not set(identifier_words(name)) & _NOT_A_STEP_WORDS


_NOT_A_STEP_WORDS = frozenset(
    {"save", "load", "sched", "scheduler", "lr", "prepare", "init", "initialize", "build", "create", "make",
     "log", "print", "checkpoint", "state", "wrap", "setup", "get", "restore", "resume"}
)
