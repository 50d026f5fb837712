"""The GraphQL surface of Resolute: types, queries, mutations and loaders, per domain.

Depends on `api` (services, models, access), never the other way round.
"""
