"""Answers in the language the request prefers (api.i18n): English by default, Vietnamese when Accept-Language puts
it first; only words change, never a code, a field or a figure. (The warnings' reasons: test_monitoring_warnings.py and
test_monitoring_reports.py.)"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from resolute.api.i18n import LANGUAGES, language
from tests.support import Api, small_tree, small_users

CASES = {
    None: "en", "": "en", "vi": "vi", "vi-VN": "vi", "VI-vn,en;q=0.5": "vi", "en-US,vi;q=0.9": "en", "fr, de": "en",
    "fr;q=1, vi;q=0.5, en;q=0.4": "vi", "en;q=0.3, vi;q=0.7": "vi", "vi;q=0, en": "en", "vi;q=abc, en;q=0.1": "en", "*": "en",
}  # fmt: skip


def test_the_preferred_language_is_chosen_by_its_quality_then_its_place() -> None:
    assert {header: language(header) for header in CASES} == CASES


@given(st.text(max_size=60))
def test_any_header_gives_one_of_the_languages(header: str) -> None:
    assert language(header) in LANGUAGES


async def test_an_input_error_keeps_its_code_and_field_and_says_what_it_means_in_vietnamese(api: Api) -> None:
    await api.seed(small_tree(), small_users())
    token = await api.token_for("admin")
    parent = (await api.data('{ unit(code: "P01") { id } }', as_user="admin"))["unit"]["id"]
    create = 'mutation($p: ID!) { unitCreate(input: {parentId: $p, code: "P01-C01", name: "Trùng mã", kind: "commune"}) { unit { code } errors { field code message detail } } }'

    async def refused(accept: str | None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} | ({"Accept-Language": accept} if accept else {})
        body = (await api.client.post("/graphql", json={"query": create, "variables": {"p": parent}}, headers=headers)).json()
        (error,) = body["data"]["unitCreate"]["errors"]
        return error

    english, vi = await refused(None), await refused("vi")
    assert english["code"] == vi["code"] == "DUPLICATE" and english["field"] == vi["field"] == "code"
    assert english["message"] == english["detail"] == vi["detail"]  # the specific text, in English, always
    assert vi["message"] == "Đã có, không được trùng"
    assert await api.data('{ units(first: 100, filter: {search: "Trùng mã"}) { totalCount } }', as_user="admin") == {"units": {"totalCount": 0}}
