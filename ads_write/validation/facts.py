"""The stateful facts of the fraud rules, gathered for a whole batch of ads at once:

- duplicate content across retailers (FRAUD.DUPLICATE_CONTENT): each ad's normalised content
  hash goes into ContentFingerprint, and one query asks for the same hash from another
  retailer. Workers judge ads out of submission order, so a pair is flagged once, on the ad
  judged second, whichever of the two that is. The batch takes PostgreSQL advisory locks on its
  contents (a few buckets of the hash) and inserts and asks in one transaction under them: of
  two ads with the same content, one's insert-and-ask wholly precedes the other's, so the one
  judged second sees the first. It is flagged if the other retailer's ad is in the window
  before it (the policy), or in the window after it and not of its own batch (that later ad was
  judged first and could not see it). Within a batch the order is known: peers count only by
  the policy. An ad judged again after its first judging's facts were gathered (a worker that
  died before recording the verdict) may then be flagged with its pair: review, not a miss;
- velocity (FRAUD.VELOCITY): a sliding window per retailer in a Redis sorted set (member = ad
  id, score = submitted_at). Intake records each accepted ad there (`velocity_record`, in the
  request's own round trip to Redis), so an ad judged before its retailer's earlier submissions
  still counts them; the worker records its batch again, the backstop for a failed write at
  intake, and counts, one pipeline per batch. Without Redis (the embedded SQLite mode), or when
  Redis fails, a count of the retailer's Ad rows in the window.

Both read each ad's own `submitted_at`, not the clock, so a redelivered ad gets the same answer
(but for the duplicate case above).
"""

import bisect
import hashlib
import logging
import unicodedata
from collections import defaultdict
from datetime import timedelta

import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q

from adplatform.kernel.bulk import rows_insert
from adplatform.kernel.models import Retailer
from adplatform.kernel.redis_client import redis_client
from ads_write.models import Ad, ContentFingerprint

from .domains import registrable_domain
from .normalize import fold
from .rules import AdFacts
from .ruleset import Ruleset, current_ruleset

logger = logging.getLogger(__name__)

# Velocity windows are kept this long (seconds), so an ad redelivered within it counts the same.
VELOCITY_RETENTION = 3600


def gather_facts(ads: list[Ad], *, ruleset: Ruleset | None = None) -> dict:
    """{ad.id: AdFacts} for a batch of stored ads: a few statements per batch, none per ad."""
    if not ads:
        return {}
    ruleset = ruleset or current_ruleset()
    retailers = retailers_of(ads)
    duplicates = duplicate_ads(ads, window=ruleset.duplicate_window)
    counts = recent_submissions(ads, window_seconds=int(ruleset.velocity_window.total_seconds()))
    facts = {}
    for ad in ads:
        retailer = retailers.get(ad.retailer_id)
        facts[ad.id] = AdFacts(
            retailer_name=retailer.name if retailer else "",
            retailer_id=ad.retailer_id,
            duplicate_elsewhere=ad.id in duplicates,
            recent_submissions=counts[ad.id],
            velocity_limit=retailer.velocity_limit if retailer else None,
        )
    return facts


def retailers_of(ads: list[Ad]) -> dict:
    """{retailer id: Retailer}: those the ads carry (select_related), the rest in one query."""
    retailers = {ad.retailer_id: ad.retailer for ad in ads if Ad.retailer.is_cached(ad)}
    missing = {ad.retailer_id for ad in ads} - set(retailers)
    if missing:
        retailers.update(
            {r.id: r for r in Retailer.objects.filter(id__in=missing).only("id", "name", "velocity_limit")}
        )
    return retailers


# --- duplicate content ----------------------------------------------------------------------


def normalise_text(text: str) -> str:
    """Case, punctuation, symbols and runs of whitespace do not make content different; nor do
    invisible characters or confusable letters (Cyrillic `а` for `a`: normalize.fold)."""
    text = unicodedata.normalize("NFKC", fold(text)).casefold()
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text).split())


def content_hash(*, headline: str, description: str, landing_url: str) -> str:
    parts = (normalise_text(headline), normalise_text(description), registrable_domain(landing_url))
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


# With a bucket of the content hash, the PostgreSQL advisory lock that orders the fingerprinting
# of the same content (any constant but audit's chain lock key, 0x0AD0A0D1).
FINGERPRINT_LOCK_KEY = 0x0AD0_F1D0
# Contents share this many locks, so that a big batch holds a few hundred at most: PostgreSQL's
# lock table is shared by every session.
FINGERPRINT_LOCK_BUCKETS = 256


def fingerprint_lock_bucket(digest: str) -> int:
    return int(digest[:8], 16) % FINGERPRINT_LOCK_BUCKETS


def _lock_contents(digests) -> None:
    # One statement, buckets in ascending order: two batches sharing buckets wait for each other
    # rather than deadlock. Held until commit. SQLite needs none: its transactions are serial.
    if connection.vendor != "postgresql":
        return
    buckets = sorted({fingerprint_lock_bucket(d) for d in digests})
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, b) FROM unnest(%s::int[]) b", [FINGERPRINT_LOCK_KEY, buckets])


def duplicate_ads(ads: list[Ad], *, window) -> set:
    """Ids of the ads whose content another retailer submitted within `window` before them, or
    within `window` after them when that later ad was judged first (outside this batch)."""
    fingerprints = [
        (
            ad.id,
            ad.retailer_id,
            content_hash(headline=ad.headline, description=ad.description, landing_url=ad.landing_url),
            ad.submitted_at,
        )
        for ad in ads
    ]
    batch = [ad.id for ad in ads]

    # Per ad, one EXISTS on the (content_hash, retailer_id, submitted_at) index for the
    # retailers sorting below its own and one for those above: "another retailer" as two index
    # ranges, each stopping at its first match. (Fetching every fingerprint of the content in
    # the window cost time in proportion to them: one retailer repeating one text 30,000 times
    # made each ad cost milliseconds.) The range runs to `window` after the ad; a row after it
    # counts only from outside the batch (a later ad judged before this one). Analysed, a table
    # of few distinct contents made the planner prefer the purge's submitted_at index (the whole
    # window per ad): migration 0018 has content_hash planned as unique, keeping it on this one.
    def other_retailers(lookup: str):
        return Exists(
            ContentFingerprint.objects.filter(
                Q(submitted_at__lte=OuterRef("submitted_at")) | ~Q(ad_id__any=batch),
                content_hash=OuterRef("content_hash"),
                submitted_at__gte=OuterRef("submitted_at") - window,
                submitted_at__lte=OuterRef("submitted_at") + window,
                **{f"retailer_id__{lookup}": OuterRef("retailer_id")},
            )
        )

    # Insert and ask in one transaction under the contents' locks: of two ads with the same
    # content, one's insert-and-ask wholly precedes the other's, so the one judged second sees
    # the first (each statement reads what was committed when it began: READ COMMITTED, the
    # default), and the pair is flagged once. Without the lock two workers at once would flag
    # both (committing before asking) or neither (asking before committing).
    with transaction.atomic():
        _lock_contents(digest for _, _, digest, _ in fingerprints)
        rows_insert(
            model=ContentFingerprint,
            columns=["ad_id", "retailer_id", "content_hash", "submitted_at"],
            rows=fingerprints,
            ignore_conflicts=True,
        )
        return set(
            ContentFingerprint.objects.filter(ad_id__any=batch)
            .filter(other_retailers("lt") | other_retailers("gt"))
            .values_list("ad_id", flat=True)
        )


# --- velocity -------------------------------------------------------------------------------


def recent_submissions(ads: list[Ad], *, window_seconds: int) -> dict:
    """{ad.id: the retailer's submissions in (submitted_at - window, submitted_at]}, this ad included."""
    if settings.REDIS_URL:
        try:
            return _count_in_redis(ads, window_seconds=window_seconds)
        except redis.RedisError as exc:
            logger.warning("velocity: Redis failed (%s); counting ads in the database instead", exc)
    return _count_in_database(ads, window_seconds=window_seconds)


def velocity_key(retailer_id) -> str:
    return f"{settings.AD_VELOCITY_KEY_PREFIX}{retailer_id}"


def velocity_record(*, submissions, pipe, trim: bool = False) -> None:
    """Queue on `pipe` (a Redis pipeline the caller sends) the writes that put submissions in
    their retailers' windows: `submissions` are (retailer id, ad id, submitted_at as a POSIX
    timestamp). ZADD of an ad already there (recorded at intake, or redelivered) changes nothing.

    Only the worker trims (`trim`), behind the ads it judges: trimming at intake, relative to
    the newest submission, would drop what a worker judging a backlog over VELOCITY_RETENTION
    old still has to count."""
    by_retailer = defaultdict(dict)
    for retailer_id, ad_id, moment in submissions:
        by_retailer[str(retailer_id)][str(ad_id)] = moment
    for retailer_id, members in by_retailer.items():
        key = velocity_key(retailer_id)
        pipe.zadd(key, members)
        if trim:
            pipe.zremrangebyscore(key, "-inf", f"({max(members.values()) - VELOCITY_RETENTION}")
        pipe.expire(key, VELOCITY_RETENTION)


def _count_in_redis(ads: list[Ad], *, window_seconds: int) -> dict:
    pipe = redis_client().pipeline(transaction=False)
    # Add first, then count: ads of the same batch count each other. Intake has added them
    # already unless its best-effort write failed: this is the backstop.
    velocity_record(
        submissions=[(ad.retailer_id, ad.id, ad.submitted_at.timestamp()) for ad in ads], pipe=pipe, trim=True
    )
    # One count per retailer and moment: the ads of a batch request share theirs.
    moments = list({(ad.retailer_id, ad.submitted_at.timestamp()) for ad in ads})
    for retailer_id, moment in moments:
        pipe.zcount(velocity_key(retailer_id), f"({moment - window_seconds}", moment)
    counts = dict(zip(moments, pipe.execute()[-len(moments) :], strict=True))
    return {ad.id: counts[ad.retailer_id, ad.submitted_at.timestamp()] for ad in ads}


def _count_in_database(ads: list[Ad], *, window_seconds: int) -> dict:
    window = timedelta(seconds=window_seconds)
    earliest = min(ad.submitted_at for ad in ads) - window
    latest = max(ad.submitted_at for ad in ads)
    rows = Ad.objects.filter(
        retailer_id__in={ad.retailer_id for ad in ads}, submitted_at__gt=earliest, submitted_at__lte=latest
    ).values_list("id", "retailer_id", "submitted_at")
    # The batch's own ads count even if a caller has not stored them yet.
    submissions = {ad_id: (retailer_id, submitted_at) for ad_id, retailer_id, submitted_at in rows}
    submissions.update({ad.id: (ad.retailer_id, ad.submitted_at) for ad in ads})
    times = defaultdict(list)
    for retailer_id, submitted_at in submissions.values():
        times[retailer_id].append(submitted_at)
    for moments in times.values():
        moments.sort()
    counts = {}
    for ad in ads:
        moments = times[ad.retailer_id]
        counts[ad.id] = bisect.bisect_right(moments, ad.submitted_at) - bisect.bisect_right(
            moments, ad.submitted_at - window
        )
    return counts
