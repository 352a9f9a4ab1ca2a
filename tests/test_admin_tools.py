"""The admin's paginator for big tables: exact counts up to a cap, then an estimate or a
lower bound, never a full COUNT(*)."""

import pytest
from django.db import connection

from adplatform.admin_tools import LargeTablePaginator
from audit.models import AuditEntry
from tests.factories import audit_chain

pytestmark = pytest.mark.django_db


@pytest.fixture
def cap_of_three(monkeypatch):
    monkeypatch.setattr(LargeTablePaginator, "COUNT_CAP", 3)


def test_small_lists_are_counted_exactly(cap_of_three):
    audit_chain(3)
    paginator = LargeTablePaginator(AuditEntry.objects.all(), 2)
    assert (paginator.count, paginator.count_label, paginator.num_pages) == (3, "3", 2)


def test_a_filtered_list_past_the_cap_is_shown_as_a_lower_bound(cap_of_three):
    audit_chain(5)
    paginator = LargeTablePaginator(AuditEntry.objects.filter(action="test.done"), 2)
    assert (paginator.count, paginator.count_label) == (3, "more than 3")


def test_an_unfiltered_list_past_the_cap_shows_the_planners_estimate(cap_of_three):
    audit_chain(5)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {AuditEntry._meta.db_table}")
    paginator = LargeTablePaginator(AuditEntry.objects.all(), 2)
    assert (paginator.count, paginator.count_label) == (5, "about 5")
