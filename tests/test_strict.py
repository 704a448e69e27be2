"""The strict switch is on for the whole test suite: records that are never changed once built are
frozen here, so code that changes one fails its tests instead of corrupting a shared value."""

from __future__ import annotations

import dataclasses

import pytest

from evallint.analysis import callgraph, ir, lattice
from evallint.strict import strict


def test_the_suite_runs_strict():
    assert strict()


@pytest.mark.parametrize(
    "cls",
    [ir.Call, ir.Assign, ir.Loop, ir.FileIndex, lattice.Origin, lattice.Poss, callgraph.FunctionRef, callgraph.ClassRef],
    ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}",
)
def test_records_are_frozen_under_the_suite(cls):
    assert cls.__dataclass_params__.frozen


def test_changing_a_record_fails_loudly():
    origin = lattice.Origin(lattice.ENTRY, "f.py", 1, "main")
    with pytest.raises(dataclasses.FrozenInstanceError):
        origin.node = 2  # type: ignore[misc]
