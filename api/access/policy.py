"""The only reader of policies/: which role may do which action on which kind of object.

Casbin is asked per (role, object, action), never per unit: the answers are few and cached,
and the tree (api/access/scope.py) turns them into SQL over any number of units.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import casbin

__all__ = ["Policy", "load_policy"]


class Policy:
    def __init__(self, policy_dir: Path) -> None:
        self._enforcer = casbin.Enforcer(str(policy_dir / "model.conf"), str(policy_dir / "policy.csv"))
        grouping = self._enforcer.get_grouping_policy()
        self.roles: tuple[str, ...] = tuple(dict.fromkeys(rule[0] for rule in grouping))
        permissions = self._enforcer.get_policy()
        self.actions: tuple[tuple[str, str], ...] = tuple(dict.fromkeys((rule[1], rule[2]) for rule in permissions))
        self._cache: dict[tuple[str, str, str], bool] = {}

    def allows(self, role: str, obj: str, act: str) -> bool:
        """May `role` do `act` on objects of kind `obj` (somewhere in its scope)?"""
        key = (role, obj, act)
        answer = self._cache.get(key)
        if answer is None:
            answer = role in self.roles and bool(self._enforcer.enforce(role, obj, act))
            self._cache[key] = answer
        return answer

    def is_role(self, role: str) -> bool:
        return role in self.roles

    def matrix(self) -> dict[str, tuple[tuple[str, str], ...]]:
        """Every role's allowed (object, action) pairs, in policy order."""
        return {role: tuple(pair for pair in self.actions if self.allows(role, *pair)) for role in self.roles}


@lru_cache(maxsize=8)
def load_policy(policy_dir: Path) -> Policy:
    return Policy(policy_dir)
