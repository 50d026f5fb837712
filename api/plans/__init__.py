"""Plan approval (step 2 of the cycle's control): a lower unit's action programme submitted to the unit above."""
