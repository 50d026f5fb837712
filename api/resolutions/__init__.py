"""Resolutions (and the action programmes that implement them), objectives and key results."""
