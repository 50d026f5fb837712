"""Data approval (step 3 of the cycle's control): a period's reported figures checked level by level up the tree."""
