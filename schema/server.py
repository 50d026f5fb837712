"""The composition root: the API's Starlette application with the GraphQL surface mounted.

`resolute serve` runs `create_app` from here (by name). It lives at the outer layer so that the
dependencies point one way: schema -> api, never back.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from resolute.api.app import create_app as create_api_app
from resolute.api.events.broker import Broker
from resolute.api.settings import Settings
from resolute.api.transaction import AfterCommit
from resolute.schema.root import schema
from resolute.schema.view import GraphQLEndpoint

__all__ = ["create_app"]


def create_app(
    settings: Settings | None = None, *, after_commit: Sequence[AfterCommit] = (), sessions: async_sessionmaker[AsyncSession] | None = None
) -> Starlette:
    """The whole server. `after_commit` hooks receive the audit events of every committed mutation
    (subscriptions and rollup maintenance plug in here); `sessions` replaces the server's own engine
    (the tests bind it to one connection and roll it back)."""
    settings = settings or Settings()
    broker = Broker(settings.redis_url)
    hooks = (*after_commit, broker.publish)
    view = GraphQLEndpoint(schema, settings, hooks, broker)
    return create_api_app(settings, graphql=view, sessions=sessions, services=[broker])
