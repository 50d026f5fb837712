"""A request's DataLoaders are built on first use (schema/loaders.py): each one builds, once, for its own request."""

from __future__ import annotations

from datetime import date
from functools import cached_property

from strawberry.dataloader import DataLoader

from resolute.schema.loaders import Loaders


def test_every_loader_builds_once_per_request_and_only_for_it() -> None:
    """A mistake in one loader's construction no longer fails every request, only those that use it: build them all."""
    names = [name for name, value in vars(Loaders).items() if isinstance(value, cached_property)]
    assert len(names) > 50
    first, second = Loaders(None, None, today=date(2025, 10, 1)), Loaders(None, None, today=date(2025, 10, 1))  # type: ignore[arg-type]
    assert not any(name in vars(first) for name in names)  # nothing is built up front
    for name in names:
        loader = getattr(first, name)
        assert isinstance(loader, DataLoader), name
        assert getattr(first, name) is loader, name  # kept for the rest of the request
        assert getattr(second, name) is not loader, name  # never shared with another request
