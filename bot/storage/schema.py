"""Every model module, imported so that the metadata (and Alembic) sees all tables."""

from bot.storage import (  # noqa: F401
    actions,
    agenda,
    e2ee_models,
    meetings,
    models,
    occurrences,
    proposals,
)
from bot.storage.models import Base

metadata = Base.metadata
