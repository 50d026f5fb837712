"""GraphQL surface of resolutions, action programmes, objectives and key results."""
