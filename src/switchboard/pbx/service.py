"""The PBX capability's service interface: the connection (pbx.connection) and the
catalogue (pbx.catalog)."""

from switchboard.pbx.catalog import get_catalog  # noqa: F401
from switchboard.pbx.connection import PbxUnavailable, get_connection, set_connection, test_connection  # noqa: F401
