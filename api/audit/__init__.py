"""The audit trail: one event per mutation, in the mutation's transaction, in a hash chain."""
