"""Root groups that share few callees, so that two walks split the work instead of repeating it.

Each root group is walked by its own analyzer (see ``Analyzer.root_groups``): a function reached
from two groups is walked twice. Alternating a project's files between the groups made many
walked functions common to both; grouping by shared callees leaves far fewer (the numbers are
in benchmarks/README.md).

The work a file's roots bring is estimated from the call scan: every function their
(over-approximated) callees reach, each costing its number of statements. Files are taken from
the most work to the least; each goes to the group that keeps the heaviest group lightest,
counting for each group only the functions it does not walk yet (ties: fewer new functions,
then the lower group). This is the longest-first rule for balancing loads, applied to unions of
callees; like every other part of phase 2 it depends on the project alone, never on the
machine.

Sets of functions are Python integers used as bitsets: a union, a difference and a weighted
count are each a few loops in C, which keeps the grouping cheap next to the walks. Those sets
take memory that grows with the square of the number of functions, so past
``MAX_CLOSURE_BYTES`` the files simply alternate between the groups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

MAX_CLOSURE_BYTES = 256 * 2**20


def partition(
    units: Mapping[str, list[str]],
    callees: Mapping[str, Iterable[str]],
    cost: Callable[[str], int],
    groups: int,
) -> list[list[str]]:
    """Split the roots of ``units`` (a file's roots stay together) into ``groups`` lists, each
    sorted. ``callees`` gives every function's possible callees; ``cost`` a function's weight."""
    starts = [root for unit in sorted(units) for root in units[unit]]
    reached = _reach(starts, callees, MAX_CLOSURE_BYTES * 8)
    if reached is None:
        ordered = sorted(units)
        return [sorted(root for unit in ordered[g::groups] for root in units[unit]) for g in range(groups)]
    bit_of, reach = reached
    weigh = _weigher({bit: cost(fid) for fid, bit in bit_of.items()})
    closures = {}
    for unit, roots in units.items():
        closure = 0
        for root in roots:
            closure |= reach[root]
        closures[unit] = closure
    walked = [0] * groups
    load = [0] * groups
    members: list[list[str]] = [[] for _ in range(groups)]
    for unit in sorted(units, key=lambda u: (-weigh(closures[u]), u)):
        closure = closures[unit]
        added = [weigh(closure & ~walked[g]) for g in range(groups)]
        # Per group: the heaviest load if the file went there, the new work it brings, the group.
        outcomes = [(max(load[h] + (added[h] if h == g else 0) for h in range(groups)), added[g], g) for g in range(groups)]
        chosen = min(outcomes)[2]
        walked[chosen] |= closure
        load[chosen] += added[chosen]
        members[chosen].extend(units[unit])
    return [sorted(group) for group in members]


def _reach(
    starts: list[str], callees: Mapping[str, Iterable[str]], max_bits: int
) -> tuple[dict[str, int], dict[str, int]] | None:
    """Each function's bit, and for every function reachable from ``starts`` the bitset of the
    functions it reaches (itself included); None once the sets would hold more than ``max_bits``.

    Tarjan's strongly connected components, iteratively: a component is complete only after
    every component it calls into, so its set is its members' bits and its callees' sets.
    """
    number: dict[str, int] = {}
    low: dict[str, int] = {}
    reach: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    spent = 0
    for start in starts:
        if start in number:
            continue
        number[start] = low[start] = len(number)
        stack.append(start)
        on_stack.add(start)
        work = [(start, iter(callees.get(start, ())))]
        while work:
            node, pending = work[-1]
            for callee in pending:
                if callee not in number:
                    number[callee] = low[callee] = len(number)
                    stack.append(callee)
                    on_stack.add(callee)
                    work.append((callee, iter(callees.get(callee, ()))))
                    break
                if callee in on_stack and number[callee] < low[node]:
                    low[node] = number[callee]
            else:
                work.pop()
                if work:
                    caller = work[-1][0]
                    low[caller] = min(low[caller], low[node])
                if low[node] == number[node]:
                    component = []
                    bits = 0
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        bits |= 1 << number[member]
                        if member == node:
                            break
                    for member in component:
                        for callee in callees.get(member, ()):
                            bits |= reach.get(callee, 0)  # 0 inside the component: not done yet
                    for member in component:
                        reach[member] = bits
                    spent += bits.bit_length()
                    if spent > max_bits:
                        return None
    return number, reach


def _weigher(weights: dict[int, int]) -> Callable[[int], int]:
    """The total weight of a bitset: one bit plane per binary digit of the weights, so that the
    sum is a popcount per plane."""
    size = (max(weights, default=0) >> 3) + 1
    digits = max(weights.values(), default=0).bit_length()
    rows = [bytearray(size) for _ in range(digits)]
    for bit, weight in weights.items():
        byte, mask = bit >> 3, 1 << (bit & 7)
        while weight:  # one pass per set binary digit of the weight, not per digit of the largest
            low = weight & -weight
            rows[low.bit_length() - 1][byte] |= mask
            weight ^= low
    planes = [int.from_bytes(row, "little") for row in rows]

    def weigh(bits: int) -> int:
        return sum((bits & plane).bit_count() << digit for digit, plane in enumerate(planes))

    return weigh
