"""Text inputs refuse control characters other than newline and tab (BAD_USER_INPUT naming where, nothing run),
in variables and in the document alike; the set refused is exactly Unicode's Cc less newline and tab."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import Api, StatementCounter, small_tree, small_users

SEARCH = "query($s: String) { units(first: 1, filter: {search: $s}) { totalCount } }"
CREATE = "mutation($i: UnitCreateInput!) { unitCreate(input: $i) { unit { code } errors { field code } } }"
COUNT = "{ units(first: 0) { totalCount } }"


@pytest.fixture
async def tree(api: Api) -> Api:
    await api.seed(small_tree(), small_users())
    await api.token_for("admin")
    return api


def refused_at(body: dict) -> str | None:
    """The `field` of a BAD_USER_INPUT refusal, or None if the request was not refused so."""
    errors = body.get("errors") or []
    codes = [e.get("extensions", {}).get("code") for e in errors]
    if codes != ["BAD_USER_INPUT"]:
        return None
    assert body["data"] is None
    return errors[0]["extensions"]["field"] or "document"


async def test_a_control_character_in_a_name_is_refused_and_nothing_is_written(tree: Api) -> None:
    before = (await tree.data(COUNT, as_user="admin"))["units"]["totalCount"]
    parent = (await tree.data('{ units(first: 1, filter: {search: "P01"}) { nodes { id } } }', as_user="admin"))["units"]["nodes"][0]["id"]
    counter = StatementCounter(tree.engine)
    body = await tree.gql(CREATE, {"i": {"parentId": parent, "code": "P01-X9", "name": "Xã\u0007 Mới", "kind": "commune"}}, as_user="admin")
    assert refused_at(body) == "variables.i.name"
    assert "U+0007" in body["errors"][0]["message"]
    assert counter.count == 1  # the caller's account only
    assert (await tree.data(COUNT, as_user="admin"))["units"]["totalCount"] == before
    ok = await tree.data(CREATE, {"i": {"parentId": parent, "code": "P01-X9", "name": "Xã Mới", "kind": "commune"}}, as_user="admin")
    assert ok["unitCreate"]["errors"] == []  # control: the same input without it is written


async def test_a_control_character_written_in_the_document_is_refused(tree: Api) -> None:
    body = await tree.gql('{ units(first: 1, filter: {search: "ab\\u001bc"}) { totalCount } }', as_user="admin")
    assert refused_at(body) == "document"
    assert (await tree.gql('{ units(first: 1, filter: {search: "ab\\tc"}) { totalCount } }', as_user="admin"))["data"] is not None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=0x2FF), max_size=12))
async def test_exactly_the_control_characters_but_newline_and_tab_are_refused(tree: Api, text: str) -> None:
    expected = any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text)
    body = await tree.gql(SEARCH, {"s": text}, as_user="admin")
    assert (refused_at(body) == "variables.s") == expected, (text, body)
    if not expected:
        assert body["data"]["units"]["totalCount"] >= 0
