"""The prepared read behind PgBouncer in transaction mode (tests/pgbouncer.py: round robin
over several server sessions), where a statement prepared on one session is missing on the
next: every read still answers right, and the process stops preparing on that database."""

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.db import connection

from adplatform.kernel import prepared
from adplatform.kernel.prepared import UUID_OID, PreparedRow
from ads_read.selectors import ad_document_get
from tests.factories import AdViewFactory, RetailerFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("through_pgbouncer")]


@pytest.fixture(autouse=True)
def _no_pooled_database(monkeypatch):
    monkeypatch.setattr(prepared, "_pooled", set())


def several_server_sessions(pgbouncer, count: int = 3) -> None:
    """The pooler's pool grown to `count` server sessions (min_pool_size fills it only in
    time): as many transactions at once."""
    db = connection.settings_dict

    def hold():
        url = f"postgresql://{db['USER']}@127.0.0.1:{pgbouncer.port}/{db['NAME']}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT pg_sleep(0.3)")

    with ThreadPoolExecutor(count) as pool:
        list(pool.map(lambda _: hold(), range(count)))


def test_reads_through_a_pooler_answer_right_and_go_unprepared_once_a_statement_is_missing(through_pgbouncer, caplog):
    several_server_sessions(through_pgbouncer)
    retailers = [RetailerFactory(name=f"Shop {n}") for n in range(20)]
    # A statement of its own (a comment makes its name): none of another test's sessions has it.
    read = PreparedRow(
        sql=f"SELECT name FROM kernel_retailer WHERE id = $1 -- {uuid.uuid4()}",
        types=[UUID_OID],
        decode=lambda values: values[0].decode(),
    )
    cursor_reads = []

    def unprepared(retailer):
        cursor_reads.append(retailer.id)
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM kernel_retailer WHERE id = %s", [retailer.id])
            return cursor.fetchone()[0]

    with caplog.at_level(logging.WARNING, logger="adplatform.kernel.prepared"):
        names = [read.fetch(connection, [r.id.bytes], otherwise=lambda r=r: unprepared(r)) for r in retailers]

    assert names == [r.name for r in retailers]
    assert prepared._database(connection) in prepared._pooled
    # From the first miss on (here the first read, most often), the cursor reads every one.
    assert cursor_reads and cursor_reads == [r.id for r in retailers[-len(cursor_reads) :]]
    assert "Prepared statements do not last on database default" in caplog.text


def test_the_api_read_by_id_answers_its_document_through_a_pooler(retailer):
    views = [AdViewFactory(retailer_id=retailer.id, retailer_name=retailer.name) for _ in range(10)]

    found = [ad_document_get(retailer_id=retailer.id, ad_id=view.id) for view in views * 2]

    assert [(ad.id, ad.version, ad.document) for ad in found] == [
        (view.id, view.version, bytes(view.document)) for view in views * 2
    ]
