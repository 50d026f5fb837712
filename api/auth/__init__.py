"""Authentication: passwords, JWT access tokens, and the principal behind a token."""
