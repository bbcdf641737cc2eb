"""Every PeerReady table, registered on `SQLModel.metadata`.

Tables live beside the stage that owns them (`app/db/models.py`, `app/jobs/models.py`, ...).
Code that needs ALL of them — migrations, backups, tests that empty the database — imports
`metadata` from here, so a new table module is listed in exactly one place.
"""

from sqlmodel import SQLModel

import app.db.models  # noqa: F401
import app.jobs.models  # noqa: F401

metadata = SQLModel.metadata
