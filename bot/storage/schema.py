"""Every model module, imported so that the metadata (and Alembic) sees all tables."""

from bot.storage import agenda, e2ee_models, meetings, models, occurrences, proposals  # noqa: F401
from bot.storage.models import Base

metadata = Base.metadata
