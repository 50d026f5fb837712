"""GraphQL surface of accounts and grants."""
