"""GraphQL surface of KPIs and measurements."""
