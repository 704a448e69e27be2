"""The rules, discovered from the modules of this package (one module per rule)."""

from __future__ import annotations

import importlib
import pkgutil

from evallint.rules.base import Rule


def _discover() -> dict[str, Rule]:
    found: dict[str, Rule] = {}
    for module_info in pkgutil.iter_modules(__path__):
        if not module_info.name.startswith("evl"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        rule = module.RULE
        if rule.code in found:
            raise RuntimeError(f"rule code {rule.code} is defined twice")
        found[rule.code] = rule
    return dict(sorted(found.items()))


ALL_RULES: dict[str, Rule] = _discover()
