"""Imports every capability's models so the metadata (migrations, tests) sees all tables."""

from switchboard.accounts import models as _accounts  # noqa: F401
from switchboard.audit import models as _audit  # noqa: F401
from switchboard.mivb import models as _mivb  # noqa: F401
from switchboard.numbering import models as _numbering  # noqa: F401
from switchboard.pbx import models as _pbx  # noqa: F401
from switchboard.sync import models as _sync  # noqa: F401
from switchboard.jobs import models as _jobs  # noqa: F401
from switchboard.core.db import Base

metadata = Base.metadata
