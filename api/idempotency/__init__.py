"""Idempotency keys: a retried mutation takes effect once and gets the first answer back."""
