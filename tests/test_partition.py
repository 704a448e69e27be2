"""Root groups that share few callees (evallint.analysis.partition)."""

from __future__ import annotations

import random

from evallint.analysis import partition as partition_module
from evallint.analysis.partition import _reach, _weigher, partition


def _naive_reach(start: str, callees: dict[str, list[str]]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for callee in callees.get(todo.pop(), ()):
            if callee not in seen:
                seen.add(callee)
                todo.append(callee)
    return seen


def _members(bits: int, bit_of: dict[str, int]) -> set[str]:
    return {fid for fid, bit in bit_of.items() if bits >> bit & 1}


def test_each_function_reaches_what_a_search_finds_cycles_included():
    rng = random.Random(7)
    for _ in range(200):
        names = [f"f{i}" for i in range(rng.randint(1, 25))]
        callees = {name: rng.sample(names, rng.randint(0, min(3, len(names)))) for name in names}
        starts = rng.sample(names, rng.randint(1, len(names)))
        bit_of, reach = _reach(starts, callees, 10**9)
        expected = set().union(*(_naive_reach(start, callees) for start in starts))
        assert set(reach) == expected
        for name in expected:
            assert _members(reach[name], bit_of) == _naive_reach(name, callees)


def test_a_weighted_count_adds_the_weights_of_the_set_bits():
    rng = random.Random(3)
    weights = {bit: rng.randint(1, 5000) for bit in range(300)}
    weigh = _weigher(weights)
    for _ in range(50):
        chosen = rng.sample(sorted(weights), rng.randint(0, 300))
        bits = sum(1 << bit for bit in chosen)
        assert weigh(bits) == sum(weights[bit] for bit in chosen)


# Two families of files, each sharing one large helper; the first file of each family also has a
# large root of its own.
FAMILIES = {
    "a1::main": ["lib_a::big"], "a2::main": ["lib_a::big"],
    "b1::main": ["lib_b::big"], "b2::main": ["lib_b::big"],
}
FAMILY_COST = {"lib_a::big": 100, "lib_b::big": 100, "a1::main": 50, "b1::main": 50}
FAMILY_UNITS = {"a1": ["a1::main"], "a2": ["a2::main"], "b1": ["b1::main"], "b2": ["b2::main"]}


def test_a_file_goes_to_the_group_that_already_walks_its_callees():
    groups = partition(FAMILY_UNITS, FAMILIES, lambda fid: FAMILY_COST.get(fid, 1), 2)
    assert groups == [["a1::main", "a2::main"], ["b1::main", "b2::main"]]


def test_work_is_balanced_when_nothing_is_shared():
    cost = {"f0::main": 40, "f1::main": 30, "f2::main": 20, "f3::main": 10}
    units = {fid.split("::")[0]: [fid] for fid in cost}
    groups = partition(units, {}, cost.__getitem__, 2)
    assert [sum(cost[fid] for fid in group) for group in groups] == [50, 50]


def test_a_files_roots_stay_together_and_every_root_is_placed_once():
    rng = random.Random(11)
    names = [f"f{i}" for i in range(60)]
    callees = {name: rng.sample(names, 2) for name in names}
    units = {f"file{u}": [f"file{u}::r{i}" for i in range(rng.randint(1, 3))] for u in range(15)}
    for roots in units.values():
        for root in roots:
            callees[root] = rng.sample(names, 3)
    groups = partition(units, callees, lambda fid: 1 + len(fid), 2)
    placed = [fid for group in groups for fid in group]
    assert sorted(placed) == sorted(fid for roots in units.values() for fid in roots)
    for roots in units.values():
        assert sum(1 for group in groups if set(roots) <= set(group)) == 1
    assert all(group == sorted(group) for group in groups)
    assert partition(units, callees, lambda fid: 1 + len(fid), 2) == groups  # the project alone decides


def test_past_the_memory_bound_files_alternate_between_the_groups(monkeypatch):
    monkeypatch.setattr(partition_module, "MAX_CLOSURE_BYTES", 0)
    groups = partition(FAMILY_UNITS, FAMILIES, lambda fid: FAMILY_COST.get(fid, 1), 2)
    assert groups == [["a1::main", "b1::main"], ["a2::main", "b2::main"]]
