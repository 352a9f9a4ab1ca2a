"""The compliance admin at scale: seed a scratch PostgreSQL database with N ads (verdicts,
findings, and one valid audit-chain entry per ad), then time the admin's pages, the CSV
export and the chain verification. Not part of the test suite.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/adplatform_scale SECRET_KEY=... AUDIT_HMAC_KEYS=bench=... WEBHOOK_SECRET_KEYS=bench=... \\
        .venv/bin/python bench/admin_scale.py --ads 1000000

The database is migrated first; seeding refuses a database that already holds ads (pass
--measure-only to time an already seeded one).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adplatform.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from adplatform.kernel.models import Retailer  # noqa: E402
from ads_write.models import Ad  # noqa: E402
from ads_write.validation.basic import TAXONOMY  # noqa: E402
from audit.chain import GENESIS_HASH, canonical_json, entry_hash, hmac_key  # noqa: E402
from audit.selectors import audit_chain_verify  # noqa: E402

RETAILERS = 50
COUNTRIES = "US GB DE FR IT ES NL SE PL JP KR CN SG SA AE BR MX CA AU IN".split()
CATEGORIES = sorted(TAXONOMY)


def sql(statement, params=()):
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
    return time.perf_counter() - started


def seed(count: int, *, chain: bool = True) -> None:
    """`count` ads with their verdicts and findings (and, with `chain`, one audit entry each)."""
    retailers = Retailer.objects.bulk_create([Retailer(name=f"Scale retailer {i}") for i in range(RETAILERS)])
    ids = [str(r.id) for r in retailers]
    # Statuses: 1 in 100 pending, 4 needs_review, 15 rejected, the rest approved.
    seconds = sql(
        """
        INSERT INTO ads_write_ad (id, retailer_id, external_ref, headline, description, landing_url, display_url,
            country, language, category, price_currency, disclosure, advertiser_license, paid_for_by, status, version,
            intake_event_id, submitted_at, reviewed_at, ruleset_version)
        SELECT gen_random_uuid(), (%s::uuid[])[1 + i %% %s], 'REF-' || i, 'Ad ' || i || ' ' || md5(i::text),
            'Description of ad ' || i, 'https://shop-' || (i %% 5000) || '.example/p/' || i, '',
            (%s::text[])[1 + i %% %s], 'en', (%s::text[])[1 + (i / 7) %% %s], '', '', '', '',
            CASE WHEN i %% 100 = 0 THEN 'pending' WHEN i %% 100 < 5 THEN 'needs_review'
                 WHEN i %% 100 < 20 THEN 'rejected' ELSE 'approved' END,
            CASE WHEN i %% 100 = 0 THEN 1 ELSE 2 END,
            gen_random_uuid(), now() - (i * interval '5 seconds'), now() - (i * interval '5 seconds'), 'scale'
        FROM generate_series(1, %s) AS i
        """,
        [ids, RETAILERS, COUNTRIES, len(COUNTRIES), CATEGORIES, len(CATEGORIES), count],
    )
    print(f"ads: {count:,} in {seconds:.0f} s")
    seconds = sql(
        """
        INSERT INTO ads_write_verdict (ad_id, event_id, version, status, source, ruleset_version, reviewer, reason, created_at)
        SELECT id, gen_random_uuid(), 2, status, 'engine', 'scale', '', '', reviewed_at FROM ads_write_ad WHERE version = 2
        """
    )
    seconds += sql(
        """
        INSERT INTO ads_write_finding (verdict_id, code, category, severity, message, field, evidence)
        SELECT v.id, CASE WHEN v.status = 'rejected' THEN 'POLICY.EXCESSIVE_CAPS' ELSE 'POLICY.SUPERLATIVE_CLAIM' END,
            'policy', CASE WHEN v.status = 'rejected' THEN 'reject' ELSE 'review' END, 'Scale finding.', 'headline', '{}'
        FROM ads_write_verdict v WHERE v.status IN ('rejected', 'needs_review')
        """
    )
    print(f"verdicts and findings in {seconds:.0f} s")
    if chain:
        seconds = seed_chain()
        print(f"audit chain: {count:,} entries in {seconds:.0f} s")
    sql("ANALYZE")


def seed_chain() -> float:
    """One ad.submitted entry per ad, a valid chain, written with COPY (INSERT is all the
    triggers allow, and COPY is an insert)."""
    started = time.perf_counter()
    prev_hash, sequence, now = GENESIS_HASH, 0, timezone.now()
    # One chain (0) of a million entries: the longest walk the verifier can meet.
    columns = (
        "sequence, event_id, occurred_at, recorded_at, actor, action, ad_id, retailer_id, data, chain, key_id, "
        "prev_hash, hash"
    )
    # Keyed as the platform keys its own entries (audit.chain).
    key_id = settings.AUDIT_HMAC_KEY_ID
    key = hmac_key(key_id)
    # A second connection reads the ads while this one is busy with the COPY.
    reader_connection = connections.create_connection("default")
    reader_connection.ensure_connection()
    with (
        reader_connection.connection.transaction(),
        reader_connection.connection.cursor(name="ads") as reader,
        connection.cursor() as writer,
    ):
        reader.execute("SELECT id, retailer_id, submitted_at, headline FROM ads_write_ad ORDER BY submitted_at, id")
        with writer.copy(f"COPY audit_auditentry ({columns}) FROM STDIN") as copy:
            while rows := reader.fetchmany(10_000):
                for ad_id, retailer_id, submitted_at, headline in rows:
                    sequence += 1
                    entry = SimpleNamespace(
                        sequence=sequence,
                        event_id=ad_id,
                        occurred_at=submitted_at,
                        recorded_at=now,
                        actor=f"retailer:{retailer_id}/key:scale",
                        action="ad.submitted",
                        ad_id=ad_id,
                        retailer_id=retailer_id,
                        data={"headline": headline},
                        chain=0,
                        key_id=key_id,
                        prev_hash=prev_hash,
                    )
                    entry.hash = entry_hash(entry, key=key)
                    copy.write_row(
                        [
                            sequence,
                            ad_id,
                            submitted_at,
                            now,
                            entry.actor,
                            entry.action,
                            ad_id,
                            retailer_id,
                            canonical_json(entry.data),
                            0,
                            key_id,
                            prev_hash,
                            entry.hash,
                        ]
                    )
                    prev_hash = entry.hash
    reader_connection.close()
    sql("SELECT setval(pg_get_serial_sequence('audit_auditentry', 'sequence'), %s)", [sequence])
    return time.perf_counter() - started


def timed(client, url, runs=3) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        if response.streaming:
            b"".join(response.streaming_content)
        assert response.status_code == 200, (url, response.status_code)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def measure() -> None:
    user = get_user_model().objects.filter(username="scale-admin").first() or get_user_model().objects.create_superuser(
        "scale-admin", password="scale-admin-password"
    )
    client = Client()
    client.force_login(user)
    waiting = Ad.objects.filter(status="needs_review").order_by("submitted_at")
    ad = waiting[waiting.count() // 2]  # a day in the middle of the range: a whole day of entries
    retailer = ad.retailer
    ads, held, log = "/admin/ads_write/ad/", "/admin/ads_write/heldad/", "/admin/audit/auditentry/"
    one_day = f"occurred_at__from={ad.submitted_at.date()}&occurred_at__to={ad.submitted_at.date()}"
    pages = {
        "ads, unfiltered": ads,
        "ads, page 50": ads + "?p=50",
        "ads, status=rejected": ads + "?status__exact=rejected",
        "ads, retailer": ads + f"?retailer__id__exact={retailer.id}",
        "ads, category=tobacco": ads + "?category=tobacco",
        "ads, country=SG": ads + "?country=SG",
        "ads, finding code": ads + "?finding_code=POLICY.SUPERLATIVE_CLAIM",
        "ads, submitted one day": ads
        + f"?submitted_at__from={ad.submitted_at.date()}&submitted_at__to={ad.submitted_at.date()}",
        "ads, reviewed one day": ads
        + f"?reviewed_at__from={ad.submitted_at.date()}&reviewed_at__to={ad.submitted_at.date()}",
        "ads, decided one day": ads
        + f"?decided_at__from={ad.submitted_at.date()}&decided_at__to={ad.submitted_at.date()}",
        "ads, search id": ads + f"?q={ad.id}",
        "ads, search external ref": ads + f"?q={ad.external_ref}",
        "ads, search headline words": ads + f"?q={ad.headline.split()[-1][:10]}",
        "ads, search landing domain": ads + "?q=shop-4321.example",
        "ad page with timeline": ads + f"{ad.id}/change/",
        "held queue": held,
        "audit log, unfiltered": log,
        "audit log, action": log + "?action=ad.submitted",
        "audit log, actor": log + f"?actor=retailer:{retailer.id}/key:scale",
        "audit log, one day": log + f"?{one_day}",
        "audit log, search ad": log + f"?q={ad.id}",
        "CSV export, one day": log + f"export/?{one_day}",
    }
    print(f"{'page':40} {'median of 3':>12}")
    for name, url in pages.items():
        print(f"{name:40} {timed(client, url) * 1000:>9.0f} ms")
    exported = b"".join(client.get(log + f"export/?{one_day}").streaming_content).count(b"\n") - 1
    print(f"(the CSV export of one day holds {exported:,} entries)")
    started = time.perf_counter()
    report = audit_chain_verify()
    seconds = time.perf_counter() - started
    print(
        f"verify chain: {report.entries:,} entries in {seconds:.1f} s ({report.entries / seconds:,.0f}/s), ok={report.ok}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ads", type=int, default=1_000_000)
    parser.add_argument("--measure-only", action="store_true")
    args = parser.parse_args()
    seeded_database(ads=args.ads, measure_only=args.measure_only)
    measure()


def seeded_database(*, ads: int, measure_only: bool, chain: bool = True) -> None:
    """Migrate the scratch database and seed it, unless measuring what is there already."""
    if connection.vendor != "postgresql":
        sys.exit("Point DATABASE_URL at a scratch PostgreSQL database.")
    call_command("migrate", verbosity=0)
    if not measure_only:
        if Ad.objects.exists():
            sys.exit("This database holds ads already: use a scratch database, or --measure-only.")
        seed(ads, chain=chain)


if __name__ == "__main__":
    main()
