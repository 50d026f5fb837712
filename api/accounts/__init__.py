"""Accounts and role grants."""
