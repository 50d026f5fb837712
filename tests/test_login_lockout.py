"""Guessing passwords: after five wrong ones in a row an account refuses logins for a while, across processes."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from resolute.api.accounts.models import User
from resolute.api.accounts.service import MAX_FAILED_LOGINS
from tests.support import PASSWORD, Api, small_tree, small_users


async def test_five_wrong_passwords_lock_the_account_for_a_while(api: Api) -> None:
    await api.seed(small_tree(), small_users())
    refused = (await api.login("p01.manager", "not the password")).json()
    for _ in range(MAX_FAILED_LOGINS - 1):
        assert (await api.login("p01.manager", "not the password")).status_code == 401
    locked = await api.login("p01.manager", PASSWORD)  # the right password, but the account is locked
    assert locked.status_code == 401 and locked.json() == refused  # no different answer tells a guesser anything
    assert (await api.login("p01.admin", PASSWORD)).status_code == 200  # other accounts are not affected
    events = await api.data('{ auditEvents(first: 5, filter: {action: "loginLockout"}) { nodes { unit { code } } } }', as_user="admin")
    assert events["auditEvents"]["nodes"] == [{"unit": {"code": "P01"}}]
    async with api.engine.begin() as conn:  # the lockout has run out
        await conn.execute(update(User).where(User.username == "p01.manager").values(locked_until=datetime(2000, 1, 1, tzinfo=UTC)))
    assert (await api.login("p01.manager", PASSWORD)).status_code == 200


async def test_a_success_resets_the_count(api: Api) -> None:
    await api.seed(small_tree(), small_users())
    for _ in range(MAX_FAILED_LOGINS - 1):
        assert (await api.login("p01.manager", "wrong")).status_code == 401
    assert (await api.login("p01.manager", PASSWORD)).status_code == 200
    for _ in range(MAX_FAILED_LOGINS - 1):
        assert (await api.login("p01.manager", "wrong")).status_code == 401
    assert (await api.login("p01.manager", PASSWORD)).status_code == 200  # four misses after a success do not lock
