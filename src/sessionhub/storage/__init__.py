"""Storage: tables, migrations, queries and the group-commit writer (the only driver importer)."""

from sessionhub.storage.database import Database

__all__ = ["Database"]
