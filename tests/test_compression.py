"""Answers are gzipped for clients that accept it (api.compression); others get them as they are, and every
answer of some size says `Vary: Accept-Encoding`, so that a cache keeps the two apart."""

from __future__ import annotations

import gzip
import json

import httpx

from tests.support import Api, small_tree, small_users

# several copies of the tree: well over the 1,000 bytes below which nothing is compressed
LARGE = "{ " + " ".join(f"u{i}: units(first: 20) {{ nodes {{ code name kind }} }}" for i in range(4)) + " }"
SMALL = "{ __typename }"


async def _post(api: Api, query: str, encoding: str) -> httpx.Response:
    token = await api.token_for("admin")
    request = api.client.build_request("POST", "/graphql", json={"query": query},
                                       headers={"Authorization": f"Bearer {token}", "Accept-Encoding": encoding})
    return await api.client.send(request, stream=True)  # the body as it came over the wire, not decoded by httpx


async def _raw(response: httpx.Response) -> bytes:
    raw = b"".join([chunk async for chunk in response.aiter_raw()])
    await response.aclose()
    return raw


async def test_gzip_for_those_who_accept_it_and_the_same_answer_for_those_who_do_not(api: Api) -> None:
    await api.seed(small_tree(), small_users())
    zipped = await _post(api, LARGE, "gzip, deflate")
    plain = await _post(api, LARGE, "identity")
    zipped_body, plain_body = await _raw(zipped), await _raw(plain)
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert gzip.decompress(zipped_body) == plain_body
    assert len(plain_body) > 1000 and len(zipped_body) < len(plain_body) / 3
    data = json.loads(plain_body)["data"]
    assert len(data["u0"]["nodes"]) == len(small_tree())
    for response in (zipped, plain):
        assert "accept-encoding" in response.headers["vary"].lower()
        assert response.headers["x-content-type-options"] == "nosniff"  # the other middleware still sees the answer


async def test_a_small_answer_is_never_compressed(api: Api) -> None:
    await api.seed(small_tree(), small_users())
    for encoding in ("gzip", "identity"):
        response = await _post(api, SMALL, encoding)
        assert "content-encoding" not in response.headers
        assert json.loads(await _raw(response))["data"] == {"__typename": "Query"}
