"""GraphQL surface of the audit trail."""
