import pytest
import redis
from django.conf import settings

from ads_write import journal


@pytest.fixture
def broker():
    """Redis (the broker) with the intake and projection queues and both direct-mode journals
    (submissions, commands) empty."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(
        "intake",
        "projections",
        journal.INDEX_KEY,
        journal.EVENTS_KEY,
        journal.COMMANDS_INDEX_KEY,
        journal.COMMANDS_EVENTS_KEY,
    )
    return client
