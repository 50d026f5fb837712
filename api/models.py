"""Every model, imported once so that metadata (and Alembic) sees the whole schema."""

from api.accounts.models import Grant, User
from api.db import Base
from api.org.models import Unit, UnitKind

__all__ = ["Base", "Grant", "Unit", "UnitKind", "User"]
