"""Published results (step 8 of the cycle): a resolution's figures for a period, frozen, versioned and hashed."""
