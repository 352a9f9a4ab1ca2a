"""The read by id: a statement compiled once, giving the same row the ORM gives; the stored
document's read is its own connection health check."""

import threading
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, connections
from django.test.utils import CaptureQueriesContext

from adplatform.kernel.connections import checked_by_use
from ads_read.models import AdView
from ads_read.selectors import ad_document_get, ad_get, ad_page, ad_view_by_id
from tests.factories import AdViewFactory

pytestmark = pytest.mark.django_db(transaction=True)

FIELDS = [f.attname for f in AdView._meta.concrete_fields]


@pytest.fixture
def decided(retailer) -> AdView:
    """A row with every column set, nulls nowhere: each converter has a value to convert."""
    view = AdViewFactory(
        retailer_id=retailer.id,
        retailer_name=retailer.name,
        status="approved",
        display_url="nimbus-store.example/shoes",
        price_amount=Decimal("89.90"),
        price_currency="EUR",
        target_min_age=18,
        finding_codes=" COMPLIANCE.PROHIBITED_CATEGORY ",
        ruleset_version="2026-11.0",
        decided_by="auditor",
        decision_reason="Checked by hand.",
        previous_status="needs_review",
    )
    AdView.objects.filter(id=view.id).update(
        starts_at=view.submitted_at,
        ends_at=view.submitted_at + timedelta(days=7),
        decided_at=view.submitted_at + timedelta(hours=1),
    )
    return AdView.objects.get(id=view.id)


def test_it_reads_the_row_the_orm_reads_column_for_column(decided, retailer):
    row = ad_view_by_id(using="default", ad_id=decided.id, retailer_id=retailer.id)

    assert [getattr(row, name) for name in FIELDS] == [getattr(decided, name) for name in FIELDS]
    assert isinstance(row.findings, list) and row.findings[0]["code"] == "COMPLIANCE.PROHIBITED_CATEGORY"
    assert isinstance(row.id, uuid.UUID) and row.price_amount == Decimal("89.90") and row.ends_at.tzinfo is not None
    assert row._state.db == "default" and not row._state.adding  # a saved instance, as the ORM gives it


def test_another_retailers_ad_and_an_unknown_id_read_as_none(decided, other_retailer, retailer):
    assert ad_view_by_id(using="default", ad_id=decided.id, retailer_id=other_retailer.id) is None
    assert ad_view_by_id(using="default", ad_id=uuid.uuid4(), retailer_id=retailer.id) is None
    assert ad_get(retailer_id=other_retailer.id, ad_id=decided.id) is None
    assert ad_document_get(retailer_id=other_retailer.id, ad_id=decided.id) is None
    assert ad_document_get(retailer_id=retailer.id, ad_id=decided.id).version == decided.version


def test_the_statement_is_reused_with_new_parameters(retailer):
    first, second = AdViewFactory(retailer_id=retailer.id), AdViewFactory(retailer_id=retailer.id)
    ad_view_by_id(using="default", ad_id=first.id, retailer_id=retailer.id)  # compiled here

    with CaptureQueriesContext(connection) as queries:
        row = ad_view_by_id(using="default", ad_id=second.id, retailer_id=retailer.id)

    assert row.id == second.id and row.external_ref == second.external_ref
    assert len(queries) == 1
    assert second.id.hex in queries[0]["sql"].replace("-", "")


def test_each_thread_reads_through_its_own_connection(decided, retailer):
    ad_view_by_id(using="default", ad_id=decided.id, retailer_id=retailer.id)
    seen = {}

    def read():
        try:
            seen["row"] = ad_view_by_id(using="default", ad_id=decided.id, retailer_id=retailer.id)
        finally:
            connections.close_all()

    reader = threading.Thread(target=read)
    reader.start()
    reader.join(timeout=30)

    assert [getattr(seen["row"], name) for name in FIELDS] == [getattr(decided, name) for name in FIELDS]


def test_the_read_by_id_is_its_own_health_check(decided, retailer, monkeypatch):
    """CONN_HEALTH_CHECKS would send `SELECT 1` before a request's first statement, a round trip
    as dear as the read itself: the read by id goes first instead, with no check of its own."""
    assert connection.health_check_enabled  # on PostgreSQL (settings)
    ad_document_get(retailer_id=retailer.id, ad_id=decided.id)  # the connection is open
    checks = []
    is_usable = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(1) or is_usable())
    connection.close_if_unusable_or_obsolete()  # as Django does when a request starts

    ad = ad_document_get(retailer_id=retailer.id, ad_id=decided.id)

    assert (ad.id, ad.version) == (decided.id, decided.version) and ad.document == bytes(decided.document)
    assert checks == []
    assert connection.health_check_done  # the request's next statements are not checked either


def test_a_list_page_is_its_own_health_check_too(decided, retailer, monkeypatch):
    ad_page(retailer_id=retailer.id, limit=1)  # the connection is open
    checks = []
    is_usable = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(1) or is_usable())
    connection.close_if_unusable_or_obsolete()  # as Django does when a request starts

    page = ad_page(retailer_id=retailer.id, limit=50)

    assert [row["id"] for row in page] == [decided.id]
    assert checks == []
    assert connection.health_check_done


def test_a_connection_that_died_since_the_last_request_is_replaced_and_the_read_answers(decided, retailer):
    ad_document_get(retailer_id=retailer.id, ad_id=decided.id)
    dead = connection.connection.info.backend_pid

    def terminate():
        try:
            with connections["default"].cursor() as cursor:  # this thread's own connection
                cursor.execute("SELECT pg_terminate_backend(%s, 10000)", [dead])  # as a server restart would
        finally:
            connections.close_all()

    killer = threading.Thread(target=terminate)
    killer.start()
    killer.join(timeout=30)
    connection.close_if_unusable_or_obsolete()  # a new request

    ad = ad_document_get(retailer_id=retailer.id, ad_id=decided.id)

    assert (ad.id, ad.version) == (decided.id, decided.version) and ad.document == bytes(decided.document)
    assert connection.connection.info.backend_pid != dead


def test_a_statement_that_fails_on_a_live_connection_is_not_run_again(retailer):
    runs = []

    def failing():
        runs.append(1)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")

    with connection.cursor() as cursor:  # the connection is open
        cursor.execute("SELECT 1")
    connection.close_if_unusable_or_obsolete()
    with pytest.raises(DatabaseError):
        checked_by_use(connection, failing)
    assert runs == [1]


def test_reads_of_stored_documents_are_logged_and_wrapped_as_any_statement(decided, retailer):
    """The read keeps its cursor between reads, yet is seen like any statement: in the query
    log (DEBUG, CaptureQueriesContext) and by the connection's execute wrappers (bench profiling)."""
    ad_document_get(retailer_id=retailer.id, ad_id=decided.id)  # its cursor is kept
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as queries, connection.execute_wrapper(wrapper):
        first = ad_document_get(retailer_id=retailer.id, ad_id=decided.id)
        second = ad_document_get(retailer_id=retailer.id, ad_id=decided.id)

    assert first == second and first.document == bytes(decided.document)
    assert len(queries) == 2 and all(decided.id.hex in q["sql"].replace("-", "") for q in queries)
    assert len(seen) == 2
    ad_document_get(retailer_id=retailer.id, ad_id=decided.id)
    assert len(seen) == 2  # the wrapper is gone with its block
