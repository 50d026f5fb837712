"""The web page (web/, shipped in the package): `/` and its files under `/static/`, and GraphiQL from the same files.

Nothing is fetched from elsewhere, so both work on a machine without internet. The page is a client of
the public API like any other (it holds its own tokens and calls /auth/* and /graphql); the server only
hands out its files, with a content security policy that lets a page run its own scripts and nothing
else.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from resolute.api.settings import ROOT

__all__ = ["PAGE_POLICY", "ROUTES", "WEB", "graphiql_page"]

WEB = ROOT / "web"
# its own files only; inline styles for GraphiQL's editor; the API and its websocket on this origin
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _page(path: Path) -> Response:
    return FileResponse(path, media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-cache"})


async def home(request: Request) -> Response:
    return _page(WEB / "index.html")


def graphiql_page() -> Response:
    return _page(WEB / "graphiql.html")


class _Files(StaticFiles):
    """The page's files; revalidated on each load (ETag), so a new release is picked up at once. A page reached
    here (/static/index.html) gets the same content security policy as at its own address."""

    def file_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        if response.media_type and response.media_type.startswith("text/html"):
            response.headers["Content-Security-Policy"] = PAGE_POLICY
        return response


ROUTES = [Route("/", home), Mount("/static", app=_Files(directory=WEB), name="static")]
