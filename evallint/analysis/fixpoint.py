"""Least fixpoints over the call graph, one strongly connected component at a time.

A property such as "this function trains, itself or through what it calls" is defined in terms
of the same property of its callees. Computed by plain recursion with a provisional answer for
functions already being computed, it gives a function of a call cycle a different answer
depending on which function of the cycle was asked about first. ``solve`` finds the components
(Tarjan's algorithm, iteratively), then iterates each one, callees' components first, until its
values stop changing: the answer is the least fixpoint, whatever was asked first.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

Node = TypeVar("Node", bound=Hashable)
Value = TypeVar("Value")


def solve(
    start: Node,
    successors: Callable[[Node], Iterable[Node]],
    transfer: Callable[[Node, Callable[[Node], Value]], Value],
    bottom: Value,
    memo: dict,
    settled: Callable[[Node], Value | None] = lambda node: None,
) -> Value:
    """The value of ``start``, where ``transfer(node, value_of)`` computes a node's value from
    its successors' (``value_of``) and must be monotone. ``memo`` holds the values already
    solved; every node reached from ``start`` and not yet in it is solved and added.
    ``settled(node)`` may give a node's value without its successors (a function that trains
    by itself trains, whatever it calls): they are then not visited for it."""
    if start in memo:
        return memo[start]
    value = settled(start)
    if value is not None:
        memo[start] = value
        return value
    number: dict = {start: 0}
    low: dict = {start: 0}
    stack = [start]
    on_stack = {start}
    work = [(start, iter(successors(start)))]
    while work:
        node, pending = work[-1]
        for successor in pending:
            if successor in memo:
                continue
            if successor not in number:
                value = settled(successor)
                if value is not None:
                    memo[successor] = value
                    continue
                number[successor] = low[successor] = len(number)
                stack.append(successor)
                on_stack.add(successor)
                work.append((successor, iter(successors(successor))))
                break
            if successor in on_stack and number[successor] < low[node]:
                low[node] = number[successor]
        else:
            work.pop()
            if work:
                caller = work[-1][0]
                if low[node] < low[caller]:
                    low[caller] = low[node]
            if low[node] == number[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                _solve_component(component, transfer, bottom, memo)
    return memo[start]


def _solve_component(component: list, transfer, bottom, memo: dict) -> None:
    values = {member: bottom for member in component}

    def value_of(node):
        return values[node] if node in values else memo[node]

    changed = True
    while changed:
        changed = False
        for member in component:
            value = transfer(member, value_of)
            if value != values[member]:
                values[member] = value
                changed = True
    memo.update(values)
