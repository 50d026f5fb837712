"""A mutation that loses a deadlock is retried (its transaction was rolled back whole), not a 500."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from resolute.api.db import create_engine
from tests.support import Api, Backend, small_tree, small_users


@pytest.mark.committing("a second connection deadlocks with a request; the request's rows must be committed and its transaction its own")
async def test_move_that_loses_a_deadlock_is_retried_and_succeeds(api: Api, backend: Backend) -> None:
    if backend.name != "postgresql":
        pytest.skip("SQLite's BEGIN IMMEDIATE queues writers; deadlocks are PostgreSQL's")
    await api.seed(small_tree(), small_users())
    ids = await api.data('{ u: unit(code: "P01-C02") { id version } p: unit(code: "P02") { id } }', as_user="admin")
    outside = create_engine(backend.settings)
    try:
        async with outside.connect() as conn:
            deadlocks_before = (await conn.execute(text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"))).scalar_one()
            await conn.commit()
            await conn.execute(text("SELECT id FROM units WHERE code = 'P02' FOR UPDATE"))  # hold the new parent
            move = asyncio.create_task(
                api.gql("mutation($u: ID!, $p: ID!, $v: Int!) { unitMove(input: {id: $u, parentId: $p, version: $v}) { unit { depth ancestors { code } } errors { code } } }", {"u": ids["u"]["id"], "p": ids["p"]["id"], "v": ids["u"]["version"]}, as_user="admin")
            )
            await asyncio.sleep(0.5)  # the move now holds P01-C02 and waits for P02
            await conn.execute(text("SELECT id FROM units WHERE code = 'P01-C02' FOR UPDATE"))  # closes the cycle
            await conn.commit()
            body = await asyncio.wait_for(move, timeout=30)
            deadlocks_after = (await conn.execute(text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"))).scalar_one()
    finally:
        await outside.dispose()
    assert body.get("errors") is None, body
    assert body["data"]["unitMove"] == {"unit": {"depth": 3, "ancestors": [{"code": "TW"}, {"code": "P02"}]}, "errors": []}
    assert deadlocks_after > deadlocks_before  # a deadlock really happened, and the move survived it
