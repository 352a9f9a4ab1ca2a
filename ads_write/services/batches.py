"""A batch submission (POST /api/v1/ads/batch): each ad is checked on its own, the valid ones
are accepted (or only judged, for a dry run) together, and the answer has one result per ad,
in the order sent."""

from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
from django.conf import settings

from adplatform.kernel.auth import Caller
from adplatform.problems import problem

from ..batch_body import basic_results
from .intake import ads_submit, ads_validate_only


@dataclass(frozen=True)
class BatchOutcome:
    results: list[dict]  # per ad: its index, and its errors, its verdict (dry run) or its id and status
    accepted_count: int

    def as_dict(self) -> dict:
        return {
            "accepted_count": self.accepted_count,
            "failed_count": len(self.results) - self.accepted_count,
            "results": self.results,
        }


def ads_submit_batch(*, caller: Caller, items: list[msgspec.Raw], dry_run: bool = False) -> BatchOutcome:
    """Basic validation of every item (each ad's JSON, decoded in turn: ads_write/batch_body.py), then `ads_validate_only` (dry run) or `ads_submit` of
    those that passed. Raises a 422 problem (batch-rejected, with the results) when none
    passed and it was not a dry run; whatever ads_submit raises otherwise."""
    now = datetime.now(UTC)  # one clock reading for the whole batch
    results: list[dict] = []
    valid: list[tuple[int, dict]] = []
    checks = basic_results(items, max_ad_bytes=settings.API_MAX_BODY_BYTES, now=now)
    for index, checked in enumerate(checks):
        if checked.ok:
            valid.append((index, checked.ad))
            results.append({"index": index})
        else:
            results.append({"index": index, "errors": [e.as_dict() for e in checked.errors]})
    ads = [ad for _, ad in valid]
    if dry_run:
        for (index, _), verdict in zip(valid, ads_validate_only(retailer=caller.retailer, ads=ads), strict=True):
            results[index].update(verdict.as_dict())
        return BatchOutcome(results=results, accepted_count=len(valid))
    if not valid:
        raise problem("batch-rejected", detail=f"None of {len(items)} ad(s) passed basic validation.", results=results)
    for (index, _), accepted in zip(valid, ads_submit(caller=caller, ads=ads), strict=True):
        results[index].update(id=str(accepted.id), status=accepted.status)
    return BatchOutcome(results=results, accepted_count=len(valid))
