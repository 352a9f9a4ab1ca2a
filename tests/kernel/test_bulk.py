"""kernel/bulk.py against the real PostgreSQL: rows copied in as given, conflicts skipped or
refused as bulk_create would, and the staging table of the read model's upsert. Batches
have COPY_MIN_ROWS rows, so that they go by COPY."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import DataError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from adplatform.kernel.bulk import COPY_MIN_ROWS, JsonText, rows_insert, rows_stage
from ads_write.models import Ad, OutboxMessage

pytestmark = pytest.mark.django_db
COLUMNS = ["event_id", "task_name", "payload", "created_at"]


def row(event_id=None, *, payload=None) -> tuple:
    return (event_id or uuid.uuid4(), "test.task", payload if payload is not None else {"n": 1}, timezone.now())


def others(count=COPY_MIN_ROWS - 1) -> list[tuple]:
    return [row() for _ in range(count)]


def test_rows_land_as_given_json_included():
    first, second = row(payload={"ads": ["a", "ü"], "price": 9.5, "none": None}), row(payload=[1, 2])
    rows_insert(model=OutboxMessage, columns=COLUMNS, rows=[first, second, *others(COPY_MIN_ROWS - 2)])
    stored = {m.event_id: m for m in OutboxMessage.objects.all()}
    assert stored[first[0]].payload == {"ads": ["a", "ü"], "price": 9.5, "none": None}
    assert stored[second[0]].payload == [1, 2]
    assert stored[first[0]].created_at == first[3] and stored[first[0]].published_at is None


def test_many_rows_go_by_copy_and_a_few_by_one_insert():
    with CaptureQueriesContext(connection) as many:
        rows_insert(model=OutboxMessage, columns=COLUMNS, rows=others(COPY_MIN_ROWS))
    with CaptureQueriesContext(connection) as few:
        rows_insert(model=OutboxMessage, columns=COLUMNS, rows=others(COPY_MIN_ROWS - 1))
    assert [q["sql"].split()[:2] for q in many.captured_queries] == [["COPY", '"ads_write_outboxmessage"']]
    assert [q["sql"].split()[0] for q in few.captured_queries] == ["INSERT"]
    assert OutboxMessage.objects.count() == 2 * COPY_MIN_ROWS - 1


def test_a_copy_passes_through_the_connections_execute_wrappers():
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql.split()[0])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        rows_insert(model=OutboxMessage, columns=COLUMNS, rows=others(COPY_MIN_ROWS))
    assert seen == ["COPY"]
    assert OutboxMessage.objects.count() == COPY_MIN_ROWS


def test_conflicting_rows_are_skipped_and_the_others_stored():
    kept = row(payload={"first": True})
    rows_insert(model=OutboxMessage, columns=COLUMNS, rows=[kept, *others()])
    with transaction.atomic():
        rows_insert(
            model=OutboxMessage,
            columns=COLUMNS,
            rows=[row(kept[0], payload={"first": False}), *others()],
            ignore_conflicts=True,
        )
    assert OutboxMessage.objects.count() == 2 * COPY_MIN_ROWS - 1
    assert OutboxMessage.objects.get(event_id=kept[0]).payload == {"first": True}


def test_a_conflict_without_ignore_conflicts_is_an_integrity_error_that_leaves_the_transaction_usable():
    taken = row()
    rows_insert(model=OutboxMessage, columns=COLUMNS, rows=[taken])
    with pytest.raises(IntegrityError):
        with transaction.atomic():
            rows_insert(model=OutboxMessage, columns=COLUMNS, rows=[*others(), row(taken[0])])
    assert OutboxMessage.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_staged_rows_live_until_commit_only_inside_a_transaction():
    with pytest.raises(RuntimeError):
        rows_stage(model=OutboxMessage, columns=COLUMNS, rows=[row()])
    with transaction.atomic():
        staged = rows_stage(model=OutboxMessage, columns=COLUMNS, rows=[row(), row()])
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {staged}")
            assert cursor.fetchone() == (2,)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [staged])
        assert cursor.fetchone() == (None,)
    assert not OutboxMessage.objects.exists()


# --- values as callers give them: ids and times as text, choices, prices past two places --------


def test_ids_and_times_given_as_text_land_as_their_values():
    event_id = uuid.uuid4()
    rows = [
        (str(event_id), "test.task", JsonText('{"b": 1, "a": "ü"}'), "2026-12-07T10:00:00.123456+02:00"),
        (uuid.uuid4(), "test.task", {"n": 2}, "2026-12-07T10:00:00"),  # no offset: UTC, as the session reads it
        *others(),
    ]
    rows_insert(model=OutboxMessage, columns=COLUMNS, rows=rows)
    first = OutboxMessage.objects.get(event_id=event_id)
    assert first.created_at == datetime(2026, 12, 7, 8, 0, 0, 123456, tzinfo=UTC)
    assert first.payload == {"b": 1, "a": "ü"}
    second = OutboxMessage.objects.get(event_id=rows[1][0])
    assert second.created_at == datetime(2026, 12, 7, 10, 0, tzinfo=UTC) and second.payload == {"n": 2}


def test_the_columns_types_still_hold_their_values(retailer):
    """COPY hands each value to the type's input function with the column's modifiers: a
    price is rounded to its two places and an over-long text refused, as an INSERT would."""
    fields = Ad._meta.concrete_fields
    columns = [f.attname for f in fields]

    def ad(**values):
        base = {
            **{f.attname: f.get_default() for f in fields},  # status: AdStatus.PENDING, a TextChoices
            "id": uuid.uuid4(),
            "retailer_id": str(retailer.id),
            "intake_event_id": uuid.uuid4(),
            "external_ref": "ref",
            "headline": "Spring sale",
            "landing_url": "https://shop.example/sale",
            "country": "DE",
            "language": "de",
            "category": "apparel",
            "price_amount": Decimal("19.995"),
            "price_currency": "EUR",
            "submitted_at": timezone.now(),
        }
        return tuple({**base, **values}[name] for name in columns)

    rows = [ad(price_amount=Decimal("19.995")), ad(price_amount=None), *[ad() for _ in range(COPY_MIN_ROWS)]]
    rows_insert(model=Ad, columns=columns, rows=rows)
    stored = Ad.objects.get(id=rows[0][0])
    assert stored.price_amount == Decimal("20.00") and stored.status == "pending" and stored.version == 1
    assert Ad.objects.get(id=rows[1][0]).price_amount is None
    with pytest.raises(DataError), transaction.atomic():
        rows_insert(model=Ad, columns=columns, rows=[ad(headline="x" * 91), *[ad() for _ in range(COPY_MIN_ROWS)]])
    assert Ad.objects.count() == len(rows)
