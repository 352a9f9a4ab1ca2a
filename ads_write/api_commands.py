"""The retailer's commands on a submitted ad: change (PATCH /ads/{id}), pause, resume and
withdraw (POST /ads/{id}/pause …), and the batch forms of pause and withdraw. Thin views over
services/commands.py; their OpenAPI material is in openapi.py."""

import re

from django.conf import settings
from django.urls import reverse
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import APIView

from adplatform.admin_tools import parse_uuid
from adplatform.parsers import request_json
from adplatform.problems import Problem, problem, problem_body
from ads_read.selectors import ad_get
from ads_read.serializers import AdViewSerializer

from . import openapi
from .idempotency import idempotent
from .services.commands import CommandResult, ad_change, ads_command

_ETAG = re.compile(r'^\s*(?:W/)?"(\d{1,9})"\s*$')
NOTES = {
    "change": "The change is judged as a new ad is; until its verdict the ad shows, and an approved ad keeps "
    "serving, its last judged version. Read the ad (or hear `ad.changed`) for the verdict.",
    "pause": "Paused: an approved ad stays approved but is not live until resumed.",
    "resume": "Resumed: an approved ad is live again.",
    "withdraw": "Withdrawn: final; the ad is no longer live, in review or changeable.",
}


def etag(version: int) -> str:
    return f'"{version}"'


def if_match(request, *, required: bool) -> int | None:
    """The version named by `If-Match` (an ad's ETag); None for `*` or, when not required,
    for none. Raises 428 when required and missing, 412 when it names no version."""
    value = request.headers.get("If-Match")
    if value is None:
        if required:
            raise problem("precondition-required", detail='Send If-Match with the ETag of your last read, e.g. "3".')
        return None
    if value.strip() == "*":
        return None
    match = _ETAG.match(value)
    if match is None:
        raise problem("precondition-failed", detail=f"If-Match {value!r} names no version of this ad.")
    return int(match.group(1))


def ad_uuid(ad_id):
    parsed = parse_uuid(ad_id)
    if parsed is None:
        raise problem("not-found", detail="No ad with this id for your account.")
    return parsed


def command_body(result: CommandResult, action: str) -> dict:
    return {
        "id": str(result.id),
        "version": result.version,
        "status": result.status,
        "paused": result.paused,
        "change": result.change,
        "note": NOTES[action] if result.applied else "Nothing to do: the ad is so already.",
    }


def command_response(request, result: CommandResult, action: str) -> Response:
    headers = {"ETag": etag(result.version), "Location": reverse("ad-detail", kwargs={"ad_id": result.id})}
    if settings.AD_INTAKE_MODE == "sync" and action == "change":
        # The linear path judged it in the request: the answer is the judged ad.
        document = AdViewSerializer(ad_get(retailer_id=request.caller.retailer.id, ad_id=result.id)).data
        headers["ETag"] = etag(document["version"])
        return Response(document, status=status.HTTP_200_OK, headers=headers)
    code = status.HTTP_200_OK if settings.AD_INTAKE_MODE == "sync" else status.HTTP_202_ACCEPTED
    return Response(command_body(result, action), status=code, headers=headers)


class AdChangeApi(APIView):
    @openapi.ads_change_schema
    @idempotent
    def patch(self, request, ad_id):
        ad_id = ad_uuid(ad_id)
        version = if_match(request, required=True)
        patch = request_json(request, max_bytes=settings.API_MAX_BODY_BYTES)
        if not isinstance(patch, dict) or not patch:
            raise problem(
                "bad-request",
                detail="The body must be an object of the fields to change.",
                errors=[{"field": "", "code": "BASIC.REQUIRED", "message": "Send at least one field."}],
            )
        result = ad_change(caller=request.caller, ad_id=ad_id, patch=patch, if_match=version)
        return command_response(request, result, "change")


class _AdCommandApi(APIView):
    action = ""

    def command(self, request, ad_id) -> Response:
        ad_id = ad_uuid(ad_id)
        version = if_match(request, required=False)
        [result] = ads_command(caller=request.caller, action=self.action, ad_ids=[ad_id], if_match=version)
        return command_response(request, result, self.action)


class AdPauseApi(_AdCommandApi):
    action = "pause"

    @openapi.ads_command_schema("pause")
    @idempotent
    def post(self, request, ad_id):
        return self.command(request, ad_id)


class AdResumeApi(_AdCommandApi):
    action = "resume"

    @openapi.ads_command_schema("resume")
    @idempotent
    def post(self, request, ad_id):
        return self.command(request, ad_id)


class AdWithdrawApi(_AdCommandApi):
    action = "withdraw"

    @openapi.ads_command_schema("withdraw")
    @idempotent
    def post(self, request, ad_id):
        return self.command(request, ad_id)


def batch_ids(request) -> list:
    """The `ids` of a batch command, checked for shape and size; unknown ids are each refused
    in the results, not here."""
    document = request_json(request, max_bytes=settings.API_MAX_BODY_BYTES * 4)
    if not isinstance(document, dict) or set(document) != {"ids"} or not isinstance(document["ids"], list):
        raise problem(
            "bad-request",
            detail='The body must be {"ids": [id, ...]}.',
            errors=[{"field": "ids", "code": "BASIC.REQUIRED", "message": "Send an object with a list `ids`."}],
        )
    ids = document["ids"]
    if not ids:
        raise problem(
            "bad-request",
            detail="Send at least one id.",
            errors=[{"field": "ids", "code": "BASIC.REQUIRED", "message": "Send at least one id."}],
        )
    if len(ids) > settings.API_MAX_BATCH_SIZE:
        raise problem("batch-too-large", detail=f"{len(ids)} ids; at most {settings.API_MAX_BATCH_SIZE} per batch.")
    return ids


class _AdBatchCommandApi(APIView):
    action = ""

    def rate_limit_cost(self, request) -> int:
        """One unit of the rate limit per id, as a batch of ads costs one per ad."""
        try:
            return len(batch_ids(request))
        except APIException:
            return 1  # a bad body: the handler answers it

    def command(self, request) -> Response:
        raw = batch_ids(request)
        parsed = {str(item): parse_uuid(item) if isinstance(item, str) else None for item in raw}
        unique = list(dict.fromkeys(u for u in parsed.values() if u is not None))
        outcomes = ads_command(caller=request.caller, action=self.action, ad_ids=unique, batch=True)
        by_id = dict(zip(unique, outcomes, strict=True))
        results = []
        for item, ad_id in parsed.items():
            outcome = by_id.get(ad_id) if ad_id else problem("not-found", detail="No ad with this id for your account.")
            if isinstance(outcome, Problem):
                body = problem_body(
                    status_code=outcome.status_code,
                    slug=outcome.slug,
                    title=outcome.title,
                    detail=str(outcome.detail),
                    request=request,
                    extensions=outcome.extensions,
                )
                results.append({"id": item, "problem": body})
            else:
                results.append(
                    {"id": item, "version": outcome.version, "status": outcome.status, "paused": outcome.paused}
                )
        accepted = sum("problem" not in r for r in results)
        code = status.HTTP_200_OK if settings.AD_INTAKE_MODE == "sync" else status.HTTP_202_ACCEPTED
        return Response(
            {"accepted_count": accepted, "failed_count": len(results) - accepted, "results": results}, status=code
        )


class AdBatchPauseApi(_AdBatchCommandApi):
    action = "pause"

    @openapi.ads_batch_command_schema("pause")
    @idempotent
    def post(self, request):
        return self.command(request)


class AdBatchWithdrawApi(_AdBatchCommandApi):
    action = "withdraw"

    @openapi.ads_batch_command_schema("withdraw")
    @idempotent
    def post(self, request):
        return self.command(request)
