"""The token endpoints: log in, refresh, log out (OAuth 2 shaped answers, JSON bodies).

POST /auth/token   {"username", "password"}                          -> access and refresh tokens
POST /auth/token   {"grant_type": "refresh_token", "refresh_token"}  -> the next access and refresh tokens
POST /auth/logout  {"refresh_token"} or a bearer access token         -> 204; {"everywhere": true} ends every session

Wrong passwords are throttled per account (api.accounts.service: a lockout) and per client address
(RESOLUTE_LOGIN_ADDRESS_FAILURES per window, then 429 with Retry-After), which bounds a guesser
trying many accounts from one place. Behind a reverse proxy, the address is the proxy's unless
uvicorn trusts its X-Forwarded-For (FORWARDED_ALLOW_IPS).
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from resolute.api.accounts.service import authenticate
from resolute.api.auth.backend import Caller
from resolute.api.auth.sessions import close_sessions, open_session, refresh_session
from resolute.api.auth.tokens import TokenError, decode_refresh_token
from resolute.api.metrics import RATE_LIMITED
from resolute.api.rate_limit import login_allowance
from resolute.api.transaction import UnitOfWork

__all__ = ["ROUTES"]

log = logging.getLogger("resolute.auth")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
WRONG_PASSWORD = "wrong username or password"


def _system_uow(request: Request) -> UnitOfWork:
    """A unit of work with no caller, on the request's session (logins)."""
    return UnitOfWork(sessions=request.state.db.use, settings=request.app.state.settings, request_id=request.state.request_id)


def _error(code: str, description: str, status: int) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, status_code=status, headers=NO_STORE)


def _bad_request(description: str) -> JSONResponse:
    return _error("invalid_request", description, 400)


async def _json_object(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _address(request: Request) -> str:
    return request.client.host if request.client else "?"


def _client(request: Request) -> str:
    """Who logged in from where, as the owner of the account would recognise it."""
    return f"{_address(request)} {request.headers.get('user-agent', '')}".strip()[:200]


async def token_endpoint(request: Request) -> Response:
    body = await _json_object(request)
    if body is None:
        return _bad_request('send a JSON object: {"username": ..., "password": ...} or {"grant_type": "refresh_token", "refresh_token": ...}')
    grant = body.get("grant_type", "password")
    if grant == "refresh_token":
        return await _refresh(request, body)
    if grant != "password":
        return _error("unsupported_grant_type", "grant_type is 'password' or 'refresh_token'", 400)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        return _bad_request('send JSON {"username": ..., "password": ...}')
    if "\x00" in username or "\x00" in password:
        return _error("invalid_grant", WRONG_PASSWORD, 401)
    limiter = request.app.state.rate_limiter
    throttle = login_allowance(request.app.state.settings, _address(request))
    if throttle is not None:
        verdict = await limiter.spend(throttle[0], 1, throttle[1], dry_run=True)
        if not verdict.allowed:  # the same answer whatever the account: it tells nothing about any of them
            wait = max(1, math.ceil(verdict.retry_after))
            log.info("login throttled: %s, retry after %s s", _address(request), wait)
            RATE_LIMITED.labels("login").inc()
            return JSONResponse({"error": "too_many_attempts", "error_description": f"too many failed logins from this address; retry in {wait} s"},
                                status_code=429, headers={**NO_STORE, "Retry-After": str(wait)})
    uow = _system_uow(request)
    outcome = await authenticate(uow, username=username, password=password)  # a refusal still commits its count
    if outcome.value is None:
        if throttle is not None:
            await limiter.spend(throttle[0], 1, throttle[1])  # a wrong login spends one
        return _error("invalid_grant", WRONG_PASSWORD, 401)
    opened = await open_session(uow, user_id=outcome.value.id, client=_client(request))
    if opened.value is None:  # a conflict writing the session (the database busy): the client may simply retry
        return _error("temporarily_unavailable", "the login could not be recorded; retry", 503)
    return JSONResponse(opened.value.body(), headers=NO_STORE)


async def _refresh(request: Request, body: dict[str, Any]) -> Response:
    token = body.get("refresh_token")
    if not isinstance(token, str) or not token:
        return _bad_request("send the refresh token as refresh_token")
    try:
        claims = decode_refresh_token(request.app.state.settings, token)
    except TokenError:
        return _error("invalid_grant", "invalid or expired refresh token", 401)
    outcome = await refresh_session(_system_uow(request), claims=claims)  # a revocation for reuse commits too
    if outcome.value is None:
        return _error("invalid_grant", "this session has ended: log in again", 401)
    return JSONResponse(outcome.value.body(), headers=NO_STORE)


async def logout_endpoint(request: Request) -> Response:
    """End the session of a refresh token, or of the bearer's access token; or, with "everywhere", every session of its user."""
    body = await _json_object(request) if await request.body() else {}
    if body is None:
        return _bad_request('send a JSON object: {"refresh_token": ...}, or an empty body with a bearer token')
    everywhere = body.get("everywhere", False)
    if not isinstance(everywhere, bool):
        return _bad_request("everywhere is true or false")
    token = body.get("refresh_token")
    if token is not None:
        if not isinstance(token, str):
            return _bad_request("refresh_token is a string")
        try:
            claims = decode_refresh_token(request.app.state.settings, token)
        except TokenError:
            return _error("invalid_grant", "invalid or expired refresh token", 401)
        user_id, session_id = claims.user_id, claims.session_id
    elif isinstance(request.user, Caller) and request.user.claims is not None:
        user_id, session_id = request.user.principal.user_id, request.user.claims.session_id
        if session_id is None and not everywhere:
            return _bad_request("this access token belongs to no session: send its refresh token, or everywhere: true")
    else:
        return _error("invalid_client", "send a refresh token, or a bearer access token", 401)
    await close_sessions(_system_uow(request), user_id=user_id, session_id=None if everywhere else session_id)
    return Response(status_code=204, headers=NO_STORE)


ROUTES = [
    Route("/auth/token", token_endpoint, methods=["POST"]),
    Route("/auth/logout", logout_endpoint, methods=["POST"]),
]
