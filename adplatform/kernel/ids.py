import uuid

from uuid_utils import compat


def new_id() -> uuid.UUID:
    """A time-ordered UUID (v7): sortable by creation, safe to make on any node."""
    return compat.uuid7()
