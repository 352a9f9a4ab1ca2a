"""The stateful fraud facts, against the real PostgreSQL and Redis."""

import random
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from adplatform.kernel.bulk import COPY_MIN_ROWS
from ads_write.models import Ad, ContentFingerprint
from ads_write.validation import external
from ads_write.validation.engine import evaluate_many
from ads_write.validation.facts import content_hash, gather_facts, velocity_key
from bench import external_validator
from tests.conftest import client_for
from tests.factories import RetailerFactory, ad_payload

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)


def make_ad(
    retailer,
    *,
    at=T0,
    headline="Spring sale on garden chairs",
    description="Weatherproof teak chairs.",
    landing_url="https://www.nimbus-store.example/chairs",
    **fields,
) -> Ad:
    return Ad.objects.create(
        retailer=retailer,
        headline=headline,
        description=description,
        landing_url=landing_url,
        country="GB",
        language="en",
        category="home",
        intake_event_id=uuid.uuid4(),
        submitted_at=at,
        **fields,
    )


@pytest.fixture(autouse=True)
def velocity_keys(settings):
    """A key prefix of this test's own, removed afterwards."""
    prefix = f"test:velocity:{uuid.uuid4().hex}:"
    url = settings.REDIS_URL  # before a test changes it
    settings.AD_VELOCITY_KEY_PREFIX = prefix
    yield prefix
    if url:
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)


@pytest.fixture
def nimbus():
    return RetailerFactory(name="Nimbus")


@pytest.fixture
def orbit():
    return RetailerFactory(name="Orbit")


# --- duplicate content ----------------------------------------------------------------------


def test_content_hash_ignores_case_punctuation_whitespace_and_subdomain():
    a = content_hash(
        headline="Spring sale on garden chairs!",
        description="Weatherproof  teak chairs.",
        landing_url="https://www.nimbus-store.example/chairs",
    )
    b = content_hash(
        headline="spring SALE, on garden-chairs",
        description="weatherproof teak chairs",
        landing_url="https://shop.nimbus-store.example/other-page",
    )
    c = content_hash(
        headline="Spring sale on garden chairs!",
        description="Weatherproof  teak chairs.",
        landing_url="https://www.acme-store.example/chairs",
    )
    assert a == b != c


def test_in_order_judging_flags_only_the_later_ad(nimbus, orbit):
    first = make_ad(nimbus, at=T0)
    assert not gather_facts([first])[first.id].duplicate_elsewhere
    later = make_ad(orbit, at=T0 + timedelta(days=29), headline="SPRING SALE on garden chairs!!")
    assert gather_facts([later])[later.id].duplicate_elsewhere


def test_out_of_order_judging_flags_the_earlier_ad_instead(nimbus, orbit):
    # The later ad, judged first, has nothing before it; the earlier one, judged second, takes
    # the flag: the pair is caught once whatever order the workers judge it in.
    first = make_ad(nimbus, at=T0)
    later = make_ad(orbit, at=T0 + timedelta(days=29), headline="SPRING SALE on garden chairs!!")
    assert not gather_facts([later])[later.id].duplicate_elsewhere
    assert gather_facts([first])[first.id].duplicate_elsewhere


@pytest.mark.parametrize("gap, flagged", [(timedelta(days=30), True), (timedelta(days=30, seconds=1), False)])
def test_out_of_order_window_boundary_is_30_days(nimbus, orbit, gap, flagged):
    first = make_ad(nimbus, at=T0)
    later = make_ad(orbit, at=T0 + gap)
    gather_facts([later])
    assert gather_facts([first])[first.id].duplicate_elsewhere is flagged


def test_a_later_ad_of_the_same_retailer_judged_first_is_not_a_duplicate(nimbus):
    first = make_ad(nimbus, at=T0)
    gather_facts([make_ad(nimbus, at=T0 + timedelta(days=1))])
    assert not gather_facts([first])[first.id].duplicate_elsewhere


def test_window_boundary_is_30_days(nimbus, orbit):
    gather_facts([make_ad(nimbus, at=T0)])
    exactly = make_ad(orbit, at=T0 + timedelta(days=30))
    assert gather_facts([exactly])[exactly.id].duplicate_elsewhere
    too_late = make_ad(orbit, at=T0 + timedelta(days=30, seconds=1), description="Weatherproof teak chairs!")
    assert not gather_facts([too_late])[too_late.id].duplicate_elsewhere


def test_same_retailer_is_not_a_duplicate(nimbus):
    gather_facts([make_ad(nimbus, at=T0)])
    again = make_ad(nimbus, at=T0 + timedelta(days=1))
    assert not gather_facts([again])[again.id].duplicate_elsewhere


def test_different_landing_domain_is_not_a_duplicate(nimbus, orbit):
    gather_facts([make_ad(nimbus, at=T0)])
    other = make_ad(orbit, at=T0 + timedelta(hours=1), landing_url="https://www.orbit-store.example/chairs")
    assert not gather_facts([other])[other.id].duplicate_elsewhere


@pytest.mark.parametrize("order", ["in order", "reversed"])
def test_duplicates_within_one_batch_flag_only_the_later_ad(nimbus, orbit, order):
    # A batch is judged at once, its order known: the earlier ad does not count its later peer.
    a = make_ad(nimbus, at=T0)
    b = make_ad(orbit, at=T0 + timedelta(seconds=5))
    facts = gather_facts([a, b] if order == "in order" else [b, a])
    assert (facts[a.id].duplicate_elsewhere, facts[b.id].duplicate_elsewhere) == (False, True)


@pytest.mark.parametrize("other_sorts", ["below", "above"])
def test_another_retailer_is_found_among_many_rows_of_the_ads_own_retailer(other_sorts):
    # The question is asked as two index ranges, retailers sorting below and above the ad's own.
    ids = sorted(uuid.uuid4() for _ in range(2))
    own_id, other_id = ids if other_sorts == "above" else ids[::-1]
    own, other = RetailerFactory(id=own_id, name="Own"), RetailerFactory(id=other_id, name="Other")
    gather_facts([make_ad(own, at=T0 + timedelta(minutes=n)) for n in range(20)])
    assert not any(f.duplicate_elsewhere for f in gather_facts([make_ad(own, at=T0 + timedelta(hours=1))]).values())

    gather_facts([make_ad(other, at=T0 + timedelta(hours=2))])
    later = make_ad(own, at=T0 + timedelta(hours=3))
    assert gather_facts([later])[later.id].duplicate_elsewhere


def test_the_duplicate_question_is_index_ranges(nimbus):
    from django.test.utils import CaptureQueriesContext

    from tests.conftest import plans_of

    gather_facts([make_ad(nimbus, at=T0)])
    with CaptureQueriesContext(connection) as queries:
        gather_facts([make_ad(nimbus, at=T0 + timedelta(days=1))])
    (question,) = [q["sql"] for q in queries if q["sql"].startswith("SELECT") and "EXISTS" in q["sql"]]
    (plan,) = plans_of([question], "enable_seqscan")
    assert plan.count("fingerprint_hash_retailer") == 2, plan
    # Both ends of the window (before and after the ad) bound each index range; whether a row
    # after the ad is a batch peer is a filter on the rows found there.
    ranges = [line for line in plan.splitlines() if "Index Cond" in line and "content_hash" in line]
    assert len(ranges) == 2, plan
    assert all("submitted_at >=" in r and "submitted_at <=" in r and "ad_id" not in r for r in ranges), plan


def _scans(node):
    """Every node of an EXPLAIN (FORMAT JSON) plan that reads a table, with its subplans'."""
    if "Relation Name" in node:
        yield node
    for child in node.get("Plans", []):
        yield from _scans(child)


def test_the_duplicate_question_keeps_its_index_once_the_table_is_analysed(nimbus):
    # Analysed, a table of few distinct contents stored in time order made the planner probe
    # by fingerprint_submitted (the purge's index): the whole 30-day window per ad, 1.5 s an ad
    # at a million rows. Rows such that it did (10 contents), then the plan, not a timing.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO ads_write_contentfingerprint (ad_id, retailer_id, content_hash, submitted_at)
            SELECT gen_random_uuid(), md5('retailer ' || n %% 20)::uuid,
                   encode(sha256(('content ' || n %% 10)::bytea), 'hex'),
                   %s::timestamptz - interval '30 days' + n * interval '50 seconds'
            FROM generate_series(1, 50000) n
            """,
            [T0],
        )
    with CaptureQueriesContext(connection) as queries:
        gather_facts([make_ad(nimbus, at=T0, headline="Brand new text")])
    (question,) = [q["sql"] for q in queries if q["sql"].startswith("SELECT") and "EXISTS" in q["sql"]]

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ANALYZE ads_write_contentfingerprint")
        cursor.execute("EXPLAIN (FORMAT JSON) " + question)
        (plan,) = cursor.fetchone()[0]
        transaction.set_rollback(True)  # the column statistics go too: no other test plans on them
    probes = [
        (s["Node Type"], s.get("Index Name")) for s in _scans(plan["Plan"]) if s.get("Parent Relationship") == "SubPlan"
    ]
    # Plain index scans: a bitmap would gather every row of the range before the first.
    assert probes == [("Index Scan", "fingerprint_hash_retailer")] * 2


def test_concurrent_workers_leave_exactly_the_first_judged_ad_of_a_content_unflagged():
    """Workers (threads with their own PostgreSQL connections, released together) each judge a
    batch of their own retailer's ads, with the same contents as every other worker's, submitted
    in an order that has nothing to do with the judging's. Under a content's lock one worker's
    insert-and-ask wholly precedes the next's: the first to take it sees no other retailer's ad,
    every later one sees an earlier-judged one (submitted before or after its own). So of each
    content exactly one ad is left unflagged: no pair missed, none flagged twice."""
    workers, rounds, contents = 6, 4, 3
    retailers = [RetailerFactory(name=f"Retailer {n}") for n in range(workers)]
    for round_ in range(rounds):
        shuffle = random.Random(round_)
        batches = []
        for retailer in retailers:
            batch = [
                make_ad(
                    retailer,
                    at=T0 + timedelta(hours=round_, seconds=shuffle.randrange(workers)),
                    headline=f"Same chairs, round {round_}, content {c}",
                )
                for c in range(contents)
            ]
            shuffle.shuffle(batch)  # the lock order must not depend on the batch's
            batches.append(batch)
        start = threading.Barrier(workers)
        flagged, errors = {}, []

        def judge(batch):
            try:
                start.wait()
                flagged.update({ad_id: f.duplicate_elsewhere for ad_id, f in gather_facts(batch).items()})
            except Exception as exc:  # reported by the main thread (a deadlock, say)
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=judge, args=(batch,)) for batch in batches]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        assert len(flagged) == workers * contents
        unflagged = Counter(ad.headline for batch in batches for ad in batch if not flagged[ad.id])
        assert unflagged == {f"Same chairs, round {round_}, content {c}": 1 for c in range(contents)}, flagged


def test_redelivery_gives_the_same_answer(nimbus, orbit):
    a = make_ad(nimbus, at=T0)
    b = make_ad(orbit, at=T0 + timedelta(minutes=1))
    first = gather_facts([a, b])
    second = gather_facts([b, a])
    assert first == second
    assert ContentFingerprint.objects.count() == 2


# --- velocity -------------------------------------------------------------------------------


def burst(retailer, count, *, start=T0, step=timedelta(seconds=1)):
    return [make_ad(retailer, at=start + i * step, headline=f"Chairs no. {i}") for i in range(count)]


@pytest.fixture(params=["redis", "database"])
def store(request, settings):
    if request.param == "database":
        settings.REDIS_URL = ""
    return request.param


def test_velocity_counts_the_window_and_compares_with_the_limit(store, nimbus):
    nimbus.velocity_limit = 3
    nimbus.save()
    ads = burst(nimbus, 5)
    facts = gather_facts(ads)
    assert [facts[ad.id].recent_submissions for ad in ads] == [1, 2, 3, 4, 5]
    assert all(facts[ad.id].velocity_limit == 3 for ad in ads)


def test_velocity_window_is_60_seconds(store, nimbus):
    ads = [make_ad(nimbus, at=T0 + timedelta(seconds=s), headline=f"Chairs at {s}") for s in (0, 30, 59, 60, 61, 125)]
    facts = gather_facts(ads)
    # (t - 60 s, t]: the ad 60 s earlier is out, the one 59 s earlier in.
    assert [facts[ad.id].recent_submissions for ad in ads] == [1, 2, 3, 3, 4, 1]


def test_velocity_is_per_retailer_and_default_limit(store, nimbus, orbit):
    ads = burst(nimbus, 2) + burst(orbit, 3)
    facts = gather_facts(ads)
    assert [facts[ad.id].recent_submissions for ad in ads] == [1, 2, 1, 2, 3]
    assert facts[ads[0].id].velocity_limit is None  # the ruleset default (600) applies


def test_velocity_redelivery_gives_the_same_answer(store, nimbus):
    ads = burst(nimbus, 4)
    first = gather_facts(ads)
    assert gather_facts(ads) == first
    assert gather_facts(ads[2:3]) == {ads[2].id: first[ads[2].id]}


def test_velocity_over_and_at_the_limit_in_verdicts(store, nimbus):
    nimbus.velocity_limit = 2
    nimbus.save()
    ads = burst(nimbus, 3)
    verdicts = evaluate_many(ads)
    assert [verdicts[ad.id].status for ad in ads] == ["approved", "approved", "needs_review"]
    assert [f.code for f in verdicts[ads[2].id].findings] == ["FRAUD.VELOCITY"]


def test_velocity_falls_back_to_the_database_when_redis_fails(settings, nimbus):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    ads = burst(nimbus, 3)
    facts = gather_facts(ads)
    assert [facts[ad.id].recent_submissions for ad in ads] == [1, 2, 3]


def velocity_window(retailer) -> dict:
    client = redis.Redis.from_url(settings.REDIS_URL)
    return {
        member.decode(): score for member, score in client.zrange(velocity_key(retailer.id), 0, -1, withscores=True)
    }


@pytest.mark.parametrize("mode", ["cqrs", "direct"])
def test_ads_accepted_over_the_api_are_in_the_velocity_window_before_any_worker_judges_them(intake_mode, nimbus, mode):
    intake_mode(mode)
    api = client_for(nimbus)
    singles = [api.post("/api/v1/ads", ad_payload(external_ref=f"ref-{n}"), format="json").json() for n in range(2)]
    batch = api.post(
        "/api/v1/ads/batch", {"ads": [ad_payload(external_ref=f"batch-{n}") for n in range(3)]}, format="json"
    )
    assert batch.status_code == 202
    window = velocity_window(nimbus)
    assert set(window) == {a["id"] for a in singles} | {r["id"] for r in batch.json()["results"]}
    for answer in singles:  # scored by the ad's submitted_at, as the worker scores it
        assert window[answer["id"]] == datetime.fromisoformat(answer["submitted_at"].replace("Z", "+00:00")).timestamp()
    assert not Ad.objects.exclude(status="pending").exists()  # no worker ran


def test_intake_leaves_the_trimming_to_the_worker(intake_mode, nimbus):
    # A backlog: an ad submitted two hours ago, still to be judged, must keep its window.
    old = (datetime.now(tz=UTC) - timedelta(hours=2)).timestamp()
    redis.Redis.from_url(settings.REDIS_URL).zadd(velocity_key(nimbus.id), {"backlog-ad": old})
    intake_mode("direct")
    assert client_for(nimbus).post("/api/v1/ads", ad_payload(), format="json").status_code == 202
    assert velocity_window(nimbus)["backlog-ad"] == old


def test_without_redis_intake_records_nothing_and_still_accepts(intake_mode, settings, nimbus):
    intake_mode("cqrs")
    url, settings.REDIS_URL = settings.REDIS_URL, ""  # the embedded default (the broker is set at start-up)
    assert client_for(nimbus).post("/api/v1/ads", ad_payload(), format="json").status_code == 202
    settings.REDIS_URL = url
    assert velocity_window(nimbus) == {}


def test_judging_later_ads_first_counts_the_earlier_ones_recorded_at_intake(intake_mode, nimbus):
    intake_mode("cqrs")  # stores the ads, so the test can judge them as a worker would
    api = client_for(nimbus)
    for n in range(10):
        assert api.post("/api/v1/ads", ad_payload(external_ref=f"ref-{n}"), format="json").status_code == 202
    ads = list(Ad.objects.filter(retailer=nimbus).order_by("submitted_at"))
    later = gather_facts(ads[5:])  # a worker takes ads 6-10 before 1-5
    assert [later[ad.id].recent_submissions for ad in ads[5:]] == [6, 7, 8, 9, 10]
    earlier = gather_facts(ads[:5])
    assert [earlier[ad.id].recent_submissions for ad in ads[:5]] == [1, 2, 3, 4, 5]


# --- the whole batch --------------------------------------------------------------------------


def test_a_batch_costs_the_same_statements_as_one_ad(nimbus, orbit, django_assert_max_num_queries):
    one = [make_ad(nimbus, headline="Single chair")]
    many = burst(nimbus, 10) + burst(orbit, 10, start=T0 + timedelta(minutes=5))
    with django_assert_max_num_queries(6) as one_queries:
        gather_facts(one)
    with django_assert_max_num_queries(7) as many_queries:
        gather_facts(many)
    # From COPY_MIN_ROWS rows on, the fingerprints go by COPY under a savepoint (kernel/bulk.py):
    # a savepoint, the COPY and its release instead of one INSERT, whatever the batch's size.
    assert len(many) >= COPY_MIN_ROWS
    assert len(many_queries.captured_queries) == len(one_queries.captured_queries) + 2
    assert [q["sql"].split()[0] for q in many_queries.captured_queries].count("COPY") == 1


def test_evaluate_many_with_the_external_validator(settings, nimbus, orbit):
    server = external_validator.start(latency_ms=50)
    settings.EXTERNAL_VALIDATOR_URL = server.url
    settings.EXTERNAL_VALIDATOR_BACKOFF = 0.01
    external.client_state_reset()
    try:
        clean = make_ad(nimbus, headline="Teak garden chairs")
        fake = make_ad(nimbus, headline="Counterfeit AcmePhone cases", at=T0 + timedelta(seconds=1))
        owner = make_ad(RetailerFactory(name="Acme"), headline="AcmePhone cases", at=T0 + timedelta(seconds=2))
        down = make_ad(orbit, headline="Chairs [external-fail]", at=T0 + timedelta(seconds=3))
        verdicts = evaluate_many([clean, fake, owner, down])
    finally:
        server.shutdown()
        server.server_close()
        external.client_state_reset()
    assert verdicts[clean.id].status == "approved"
    assert {f.code for f in verdicts[fake.id].findings} == {"POLICY.TRADEMARK", "EXTERNAL.COUNTERFEIT"}
    assert verdicts[fake.id].status == "rejected"
    assert verdicts[owner.id].status == "approved"
    assert [f.code for f in verdicts[down.id].findings] == ["EXTERNAL.UNAVAILABLE"]
    assert verdicts[down.id].status == "needs_review"
    assert {v.ruleset_version for v in verdicts.values()} == {"2026-11.1"}
