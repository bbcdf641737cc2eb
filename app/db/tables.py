"""Every PeerReady table, registered on `SQLModel.metadata`.

All tables are defined in `app/db/models.py`. Code that needs ALL of them — migrations, backups,
tests that empty the database — imports `metadata` from here, so that if tables are ever split
over several modules, they are listed in exactly one place.
"""

from sqlmodel import SQLModel

import app.db.models  # noqa: F401

metadata = SQLModel.metadata
