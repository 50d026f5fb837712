"""GraphQL surface of the organisation tree."""
