"""National identifiers (ACCESS.md rule 7): a code taken anywhere answers DUPLICATE, and nothing else.

Unit codes, usernames, and the codes of resolutions, objectives, tasks and KPIs are unique across
the whole tree. For each, the identifier is taken by an object of ANOTHER province, invisible to the
caller, and the caller creates the same identifier in its own scope. The answer must be:

- DUPLICATE on the code (username) field, a null object, and nothing written (every row of every
  table read before and after);
- as a whole (status, data, errors with field, code and message), the answer for an identifier
  taken INSIDE the caller's own scope, once the identifier the caller sent is put aside: the
  message may echo what the caller sent and nothing else;
- free of anything about the existing object: its name or title, its unit (code, name), its
  resolution, its global id or its number.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from resolute.schema.ids import decode_any
from tests.support import Api, unit, user
from tests.test_cycle import snapshot

TODAY = dt.date.today()
START, DUE = (TODAY - dt.timedelta(days=30)).isoformat(), (TODAY + dt.timedelta(days=300)).isoformat()

UNITS = [
    unit("TW", None, "central", "Ban Chấp hành Trung ương Đảng"),
    unit("HN", "TW", "province", "Thành phố Hà Nội"),
    unit("HN-HK", "HN", "commune", "Phường Hoàn Kiếm"),
    unit("LC", "TW", "province", "Tỉnh Lào Cai"),
    unit("LC-DH", "LC", "commune", "Xã Đông Hà Vùng Cao"),
]
USERS = [
    user("admin", "TW", "admin"),
    user("hn.admin", "HN", "admin"),
    user("hn.manager", "HN", "manager"),
    user("lc.admin", "LC", "admin"),
    user("lc.manager", "LC", "manager"),
]
ERRORS = "errors { field code message }"

# what the other province's object is called: none of it may appear in an answer to the caller
SECRET_TITLE = "Kế hoạch mật Sa Pa"
SECRET_NAME = "Nguyễn Thị Bảo Mật"


async def gql_ok(api: Api, query: str, variables: dict[str, Any], as_user: str, name: str) -> dict[str, Any]:
    r = (await api.data(query, variables, as_user=as_user))[name]
    assert r["errors"] == [], (name, r["errors"])
    return r


def mutation(name: str, select: str) -> str:
    return f"mutation($i: {name[0].upper()}{name[1:]}Input!) {{ r: {name}(input: $i) {{ {select} {ERRORS} }} }}"


@dataclass
class Ids:
    units: dict[str, str]
    resolutions: dict[str, str]  # issuing unit code -> global id


async def world(api: Api) -> Ids:
    await api.seed(UNITS, USERS)
    units = {u["code"]: u["id"] for u in (await api.data("{ units(first: 50) { nodes { id code } } }", as_user="admin"))["units"]["nodes"]}
    return Ids(units, {})


async def resolution(api: Api, ids: Ids, who: str, province: str, code: str, title: str) -> str:
    inp = {"code": code, "title": title, "kind": "resolution", "issuingUnitId": ids.units[province], "issuedOn": "2025-01-15"}
    r = await gql_ok(api, mutation("resolutionCreate", "resolution { id }"), {"i": inp}, who, "r")
    ids.resolutions[province] = r["resolution"]["id"]
    return r["resolution"]["id"]


async def both_resolutions(api: Api, ids: Ids) -> None:
    await resolution(api, ids, "hn.manager", "HN", "NQ-HN-01", "Nghị quyết Hà Nội")
    await resolution(api, ids, "lc.manager", "LC", "NQ-LC-01", SECRET_TITLE)


# Each kind: how the other province's object is made (returns its global id), how the caller asks for the same
# identifier in its own scope, the field and the identifier taken outside and inside, and the caller.


@dataclass(frozen=True)
class Kind:
    name: str
    mutation: str
    select: str
    field: str
    caller: str
    outside: str  # taken by the other province's object
    inside: str  # taken in the caller's own scope
    make: Callable[[Api, Ids, str, bool], Any]  # (api, ids, identifier, outside?) -> global id of the object
    ask: Callable[[Ids, str], dict[str, Any]]  # the caller's input for an identifier
    secrets: tuple[str, ...]  # what identifies the existing outside object besides its id


async def _unit(api: Api, ids: Ids, code: str, outside: bool) -> str:
    parent, name = ("LC-DH", "Thôn Sa Pa Mật") if outside else ("HN-HK", "Thôn Hà Nội")
    inp = {"parentId": ids.units[parent], "code": code, "name": name, "kind": "cell"}
    return (await gql_ok(api, mutation("unitCreate", "unit { id }"), {"i": inp}, "admin", "r"))["unit"]["id"]


async def _user(api: Api, ids: Ids, username: str, outside: bool) -> str:
    inp = {"username": username, "fullName": SECRET_NAME if outside else "Trần Văn Hà", "unitId": ids.units["LC-DH" if outside else "HN-HK"]}
    return (await gql_ok(api, mutation("userCreate", "user { id }"), {"i": inp}, "admin", "r"))["user"]["id"]


async def _resolution(api: Api, ids: Ids, code: str, outside: bool) -> str:
    who, unit_code = ("lc.manager", "LC") if outside else ("hn.manager", "HN")
    inp = {"code": code, "title": SECRET_TITLE + " 2" if outside else "Chương trình Hà Nội", "kind": "resolution", "issuingUnitId": ids.units[unit_code],
           "issuedOn": "2025-02-01"}
    return (await gql_ok(api, mutation("resolutionCreate", "resolution { id }"), {"i": inp}, who, "r"))["resolution"]["id"]


async def _objective(api: Api, ids: Ids, code: str, outside: bool) -> str:
    if not ids.resolutions:
        await both_resolutions(api, ids)
    who, unit_code = ("lc.manager", "LC") if outside else ("hn.manager", "HN")
    inp = {"resolutionId": ids.resolutions[unit_code], "code": code, "title": SECRET_TITLE + " mục tiêu" if outside else "Mục tiêu Hà Nội"}
    return (await gql_ok(api, mutation("objectiveCreate", "objective { id }"), {"i": inp}, who, "r"))["objective"]["id"]


def _task_input(ids: Ids, code: str, unit_code: str, title: str) -> dict[str, Any]:
    return {"resolutionId": ids.resolutions[unit_code], "code": code, "title": title, "leadUnitId": ids.units[unit_code], "startOn": START, "dueOn": DUE}


async def _task(api: Api, ids: Ids, code: str, outside: bool) -> str:
    if not ids.resolutions:
        await both_resolutions(api, ids)
    who, unit_code = ("lc.manager", "LC") if outside else ("hn.manager", "HN")
    inp = _task_input(ids, code, unit_code, SECRET_TITLE + " nhiệm vụ" if outside else "Nhiệm vụ Hà Nội")
    return (await gql_ok(api, mutation("taskCreate", "task { id }"), {"i": inp}, who, "r"))["task"]["id"]


def _kpi_input(ids: Ids, code: str, unit_code: str, lead: str, name: str) -> dict[str, Any]:
    return {"resolutionId": ids.resolutions[unit_code], "code": code, "name": name, "unitOfMeasure": "%", "direction": "increase", "baseline": "40",
            "target": "80", "yellowThreshold": "62", "redThreshold": "54", "group": "public_service", "frequency": "monthly", "leadUnitId": ids.units[lead]}


async def _kpi(api: Api, ids: Ids, code: str, outside: bool) -> str:
    if not ids.resolutions:
        await both_resolutions(api, ids)
    who, unit_code, lead = ("lc.manager", "LC", "LC-DH") if outside else ("hn.manager", "HN", "HN-HK")
    inp = _kpi_input(ids, code, unit_code, lead, SECRET_TITLE + " chỉ tiêu" if outside else "Chỉ tiêu Hà Nội")
    return (await gql_ok(api, mutation("kpiCreate", "kpi { id }"), {"i": inp}, who, "r"))["kpi"]["id"]


PLACE = ("LC", "Lào Cai", "LC-DH", "Đông Hà", "NQ-LC-01", SECRET_TITLE)

KINDS = [
    Kind("unit code", "unitCreate", "unit { id code }", "code", "hn.admin", "SP-01", "HN-01", _unit,
         lambda ids, code: {"parentId": ids.units["HN"], "code": code, "name": "Đơn vị mới", "kind": "commune"}, ("Thôn Sa Pa Mật", *PLACE)),
    Kind("username", "userCreate", "user { id username }", "username", "hn.admin", "sp.clerk", "hn.clerk", _user,
         lambda ids, name: {"username": name, "fullName": "Người mới", "unitId": ids.units["HN"], "password": "a long enough passphrase 7"},
         (SECRET_NAME, *PLACE)),
    Kind("resolution code", "resolutionCreate", "resolution { id code }", "code", "hn.manager", "KH-SP-07", "KH-HN-07", _resolution,
         lambda ids, code: {"code": code, "title": "Văn bản mới", "kind": "resolution", "issuingUnitId": ids.units["HN"], "issuedOn": "2025-03-01"},
         (SECRET_TITLE + " 2", *PLACE)),
    Kind("objective code", "objectiveCreate", "objective { id code }", "code", "hn.manager", "MT-SP-07", "MT-HN-07", _objective,
         lambda ids, code: {"resolutionId": ids.resolutions["HN"], "code": code, "title": "Mục tiêu mới"}, (SECRET_TITLE + " mục tiêu", *PLACE)),
    Kind("task code", "taskCreate", "task { id code }", "code", "hn.manager", "NV-SP-07", "NV-HN-07", _task,
         lambda ids, code: _task_input(ids, code, "HN", "Nhiệm vụ mới"), (SECRET_TITLE + " nhiệm vụ", *PLACE)),
    Kind("KPI code", "kpiCreate", "kpi { id code }", "code", "hn.manager", "CT-SP-07", "CT-HN-07", _kpi,
         lambda ids, code: _kpi_input(ids, code, "HN", "HN", "Chỉ tiêu mới"), (SECRET_TITLE + " chỉ tiêu", *PLACE)),
]


async def ask(api: Api, kind: Kind, ids: Ids, identifier: str) -> dict[str, Any]:
    """The whole HTTP answer (status and data; no top-level GraphQL errors)."""
    body = await api.gql(mutation(kind.mutation, kind.select), {"i": kind.ask(ids, identifier)}, as_user=kind.caller)
    assert "errors" not in body, body
    return body


def without(body: dict[str, Any], identifier: str) -> dict[str, Any]:
    """The answer with the identifier the caller sent put aside (the message may echo it)."""
    r = body["data"]["r"]
    return {**body, "data": {"r": {**r, "errors": [{**e, "message": e["message"].replace(identifier, "<sent>")} for e in r["errors"]]}}}


@pytest.mark.parametrize("kind", [pytest.param(k, id=k.name.replace(" ", "-")) for k in KINDS])
async def test_an_identifier_taken_outside_the_scope_answers_duplicate_and_nothing_else(api: Api, kind: Kind) -> None:
    ids = await world(api)
    theirs = await kind.make(api, ids, kind.outside, True)
    ours = await kind.make(api, ids, kind.inside, False)
    # premise: the caller cannot see the other province's object, and sees its own
    seen = "query($a: ID!, $b: ID!) { a: node(id: $a) { id } b: node(id: $b) { id } }"
    assert await api.data(seen, {"a": theirs, "b": ours}, as_user=kind.caller) == {"a": None, "b": {"id": ours}}

    before = await snapshot(api)
    outside = await ask(api, kind, ids, kind.outside)
    inside = await ask(api, kind, ids, kind.inside)
    assert await snapshot(api) == before, f"{kind.mutation}: a refused create wrote something"

    r = outside["data"]["r"]
    assert [(e["field"], e["code"]) for e in r["errors"]] == [(kind.field, "DUPLICATE")], r
    assert all(v is None for k, v in r.items() if k != "errors"), r
    assert without(outside, kind.outside) == without(inside, kind.inside), (outside, inside)

    # the message says nothing of the existing object beyond what the caller sent
    said = " ".join(e["message"] for e in r["errors"]).replace(kind.outside, " ")
    _, number = decode_any(theirs)  # type: ignore[misc]
    leaks = [s for s in (*kind.secrets, theirs) if s in said]
    assert not leaks, (said, leaks)
    assert not re.search(rf"(?<!\d){number}(?!\d)", said), (said, number)


async def test_the_identifier_is_free_again_for_anyone_once_it_is_not_taken(api: Api) -> None:
    """Control: the same creates succeed with an identifier taken nowhere (the refusals above are about the identifier)."""
    ids = await world(api)
    await both_resolutions(api, ids)
    for kind in KINDS:
        body = await ask(api, kind, ids, kind.inside.replace("HN", "HN-FREE") if kind.field == "code" else "hn.free")
        r = body["data"]["r"]
        assert r["errors"] == [], (kind.name, r["errors"])
        assert all(v is not None for k, v in r.items() if k != "errors"), (kind.name, r)
