"""Property: over random trees and random grants, what GraphQL returns equals a per-unit casbin oracle.

The oracle never touches the application's SQL or paths: it walks the random tree in Python,
and asks casbin (the policy files, through its own Enforcer) unit by unit whether one of the
user's grants allows `read` there (key_match of the unit's code path against the grant's).
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass

import casbin
from casbin.util import key_match
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from resolute.api.accounts.models import Grant, User
from resolute.api.org.models import Unit
from resolute.api.settings import ROOT
from resolute.schema.ids import encode_id
from tests.support import Api, Backend, running_app, unit

ROLES = ["admin", "leader", "manager", "officer", "viewer", "auditor"]
ORACLE = casbin.Enforcer(str(ROOT / "policies" / "model.conf"), str(ROOT / "policies" / "policy.csv"))


@dataclass(frozen=True)
class World:
    parents: tuple[int, ...]  # parents[i] < i for i >= 1; unit 0 is the root
    grants: tuple[tuple[int, tuple[tuple[str, int], ...]], ...]  # per user: (own unit, ((role, unit), ...))

    def code(self, i: int) -> str:
        return f"U{i:02d}"

    def code_path(self, i: int) -> str:
        chain = [i]
        while chain[-1] != 0:
            chain.append(self.parents[chain[-1]])
        return "/" + "/".join(self.code(j) for j in reversed(chain)) + "/"

    def readable(self, user_index: int) -> set[str]:
        """The oracle: casbin asked unit by unit, grant by grant."""
        _, grants = self.grants[user_index]
        return {
            self.code(i)
            for i in range(len(self.parents))
            if any(ORACLE.enforce(role, "unit", "read") and key_match(self.code_path(i), self.code_path(g) + "*") for role, g in grants)
        }

    def strict_descendants(self, i: int) -> set[str]:
        prefix = self.code_path(i)
        return {self.code(j) for j in range(len(self.parents)) if j != i and self.code_path(j).startswith(prefix)}


@st.composite
def worlds(draw: st.DrawFn) -> World:
    size = draw(st.integers(min_value=1, max_value=18))
    parents = (0,) + tuple(draw(st.integers(min_value=0, max_value=i - 1)) for i in range(1, size))
    unit_index = st.integers(min_value=0, max_value=size - 1)
    users = draw(
        st.lists(
            st.tuples(unit_index, st.lists(st.tuples(st.sampled_from(ROLES), unit_index), min_size=0, max_size=3, unique=True)),
            min_size=1,
            max_size=3,
        )
    )
    return World(parents=parents, grants=tuple((own, tuple(g)) for own, g in users))


async def _load(api: Api, world: World) -> dict[str, int]:
    units = [unit(world.code(0), None, "central")] + [unit(world.code(i), world.code(p)) for i, p in enumerate(world.parents) if i]
    await api.seed(units, [], passwords=False)
    async with api.engine.begin() as conn:
        ids = dict((await conn.execute(select(Unit.code, Unit.id))).all())
        for n, (own, grants) in enumerate(world.grants):
            user_id = (
                await conn.execute(insert(User).values(username=f"user{n}", full_name=f"User {n}", search_name=f"user{n}", unit_id=ids[world.code(own)], active=True, version=1).returning(User.id))
            ).scalar_one()
            for role, g in grants:
                await conn.execute(insert(Grant).values(user_id=user_id, role=role, unit_id=ids[world.code(g)]))
    return ids


async def _check(api: Api, world: World) -> None:
    ids = await _load(api, world)
    aliases = " ".join(
        f'u{pk}: node(id: "{encode_id("Unit", pk)}") {{ ... on Unit {{ code descendants(first: 100) {{ totalCount nodes {{ code }} }} }} }}'
        for pk in ids.values()
    )
    for n in range(len(world.grants)):
        expected = world.readable(n)
        listed = await api.data("{ units(first: 100) { totalCount nodes { code } } }", as_user=f"user{n}")
        assert {u["code"] for u in listed["units"]["nodes"]} == expected
        assert listed["units"]["totalCount"] == len(expected)

        nodes = await api.data(f"{{ {aliases} }}", as_user=f"user{n}")
        by_node = {value["code"] for value in nodes.values() if value is not None}
        assert by_node == expected, f"node(id) disagrees for user{n}"
        for value in nodes.values():
            if value is None:
                continue
            i = int(value["code"][1:])
            want = world.strict_descendants(i) & expected
            assert {d["code"] for d in value["descendants"]["nodes"]} == want, f"descendants of {value['code']} for user{n}"
            assert value["descendants"]["totalCount"] == len(want)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(world=worlds())
def test_graphql_scope_equals_per_unit_casbin_oracle(backend: Backend, world: World) -> None:
    async def run() -> None:
        await backend.reset()
        async with AsyncExitStack() as stack:
            api = await stack.enter_async_context(running_app(backend.settings))
            await _check(api, world)

    asyncio.run(run())
