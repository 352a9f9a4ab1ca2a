"""A Python client generated from the schema (openapi-python-client) works as is: generated
into a temporary folder, imported without edits, and used against the live server with real
Celery workers for every journey a retailer makes (docs/clients.md shows the same)."""

import datetime
import importlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.utils import timezone

from adplatform.kernel.services import api_key_create
from tests.conftest import running_worker, wait_for
from tests.factories import ad_payload
from tests.notifications.conftest import local_webhooks, receiver, verify_signature  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]

FINAL = {"approved", "rejected", "needs_review"}
PACKAGE = "adplatform_api_client"


@pytest.fixture(scope="module")
def generated(django_db_setup, tmp_path_factory):
    """The client package, generated from the schema the app serves, imported from a
    temporary folder. Each name is a module of the package: `generated.api.ads_submit`..."""
    from django.test import Client

    folder = tmp_path_factory.mktemp("client")
    schema = Client().get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    (folder / "openapi.json").write_bytes(schema.content)
    bin_dir = str(Path(sys.executable).parent)  # the generator formats its output with ruff
    done = subprocess.run(
        [f"{bin_dir}/openapi-python-client", "generate", "--path", "openapi.json", "--meta", "none"],
        cwd=folder,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr  # nothing skipped
    sys.path.insert(0, str(folder))
    try:
        package = importlib.import_module(PACKAGE)
        package.api = importlib.import_module(f"{PACKAGE}.api.v1")
        package.models = importlib.import_module(f"{PACKAGE}.models")
        package.types = importlib.import_module(f"{PACKAGE}.types")
        for operation in (folder / PACKAGE / "api" / "v1").glob("*.py"):
            if operation.stem != "__init__":
                setattr(package.api, operation.stem, importlib.import_module(f"{PACKAGE}.api.v1.{operation.stem}"))
        yield package
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.startswith(PACKAGE)]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def webhook_worker(django_db_setup, tmp_path_factory):
    """The real worker, allowed to post webhooks to the local receiver (127.0.0.1, http)."""
    with running_worker(tmp_path_factory, WEBHOOK_ALLOW_HTTP="true", WEBHOOK_ALLOW_PRIVATE_NETWORKS="true") as worker:
        yield worker


@pytest.fixture
def client(generated, live_server, retailer):
    with generated.AuthenticatedClient(
        base_url=live_server.url, token=api_key_create(retailer=retailer), raise_on_unexpected_status=True
    ) as client:
        yield client


def read_until_final(generated, client, ad_id):
    def final():
        ad = generated.api.ads_retrieve.sync(client=client, ad_id=ad_id)
        assert isinstance(ad, generated.models.AdView), ad
        return ad if ad.status.value in FINAL else None

    return wait_for(final, timeout=90, what=f"ad {ad_id} to reach a final state")


def test_the_generated_client_works_as_is(generated, client, webhook_worker, receiver, local_webhooks):  # noqa: F811
    api, models = generated.api, generated.models

    # Webhooks: register one at the local receiver (before any ad, so that it hears of them).
    hook = api.webhooks_create.sync(
        client=client,
        body=models.WebhookEndpointInput(url=receiver.url(), events=[models.WebhookEventEnum.AD_REJECTED]),
    )
    assert isinstance(hook, models.WebhookEndpointCreated), hook
    assert hook.events == [models.WebhookEventEnum.AD_REJECTED] and hook.secret

    # Submit, then read until final: the 202 carries the id and the Location of the ad.
    submitted = api.ads_submit.sync_detailed(
        client=client,
        body=models.AdInput.from_dict(ad_payload(category="tobacco", headline="Fine cigars", external_ref="gen-1")),
        idempotency_key=str(uuid.uuid4()),
    )
    assert submitted.status_code == 202, submitted.content
    accepted = submitted.parsed
    assert isinstance(accepted, models.Accepted) and accepted.status == models.AdStatusEnum.PENDING
    assert submitted.headers["Location"] == f"/api/v1/ads/{accepted.id}" and submitted.headers["X-Request-ID"]
    rejected = read_until_final(generated, client, accepted.id)
    assert rejected.status == models.AdStatusEnum.REJECTED
    assert rejected.findings and rejected.findings[0].code.startswith("COMPLIANCE.")

    # Batch with one invalid ad: the valid one is accepted, the other has its field errors.
    batch = api.ads_submit_batch.sync(
        client=client,
        body=models.BatchInput.from_dict(
            {
                "ads": [
                    ad_payload(external_ref="gen-2"),
                    ad_payload(external_ref="gen-bad", landing_url="http://insecure.example"),
                ]
            }
        ),
    )
    assert isinstance(batch, models.BatchResponse), batch
    assert (batch.accepted_count, batch.failed_count) == (1, 1)
    good, bad = batch.results
    assert good.status == models.AdStatusEnum.PENDING and bad.errors[0].field == "landing_url"
    approved = read_until_final(generated, client, good.id)
    assert approved.status == models.AdStatusEnum.APPROVED and approved.price.amount == "89.90"

    # Validate only: the verdict, nothing stored.
    dry = api.ads_submit.sync(
        client=client, body=models.AdInput.from_dict(ad_payload(category="tobacco")), validate_only=True
    )
    assert isinstance(dry, models.DryRun) and dry.status == models.VerdictStatusEnum.REJECTED

    # A filtered list, paged to the end with next_cursor.
    for n in range(3):
        api.ads_submit.sync(client=client, body=models.AdInput.from_dict(ad_payload(external_ref=f"gen-page-{n}")))
    wait_for(
        lambda: (
            len(api.ads_list.sync(client=client, status=[models.AdStatusEnum.APPROVED], page_size=100).results) == 4
        ),
        timeout=90,
        what="four approved ads",
    )
    seen, cursor = [], generated.types.UNSET
    while True:
        page = api.ads_list.sync(client=client, status=[models.AdStatusEnum.APPROVED], page_size=1, cursor=cursor)
        assert isinstance(page, models.PaginatedAdViewList), page
        seen += [ad.id for ad in page.results]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == 4 and accepted.id not in seen
    assert api.ads_failed_list.sync(client=client).results[0].id == accepted.id

    # The failed-ads CSV of today, in the retailer's time zone (UTC).
    csv = api.reports_failed_ads_csv.sync(client=client, date=timezone.now().date())
    assert isinstance(csv, str) and csv.startswith("status,ad_id") and str(accepted.id) in csv

    # Errors come back as problems, parsed.
    missing = api.ads_retrieve.sync(client=client, ad_id=uuid.uuid4())
    assert isinstance(missing, models.Problem) and missing.status == 404
    bad_date = api.stats_daily.sync(client=client, from_=datetime.date(2026, 2, 1), to=datetime.date(2026, 1, 1))
    assert isinstance(bad_date, models.Problem) and bad_date.status == 400

    # The webhook arrived signed; its deliveries, the endpoint, and its removal.
    wait_for(lambda: receiver.requests, timeout=90, what="the webhook at the receiver")
    [request] = receiver.requests
    assert verify_signature(secret=hook.secret, header=request.headers["Adplatform-Signature"], body=request.body)
    assert json.loads(request.body)["ad"]["id"] == str(accepted.id)
    delivered = wait_for(
        lambda: (
            api.webhooks_deliveries_list.sync(
                client=client, endpoint_id=hook.id, status=models.DeliveryStatusEnum.DELIVERED
            ).results
        ),
        what="the delivery marked delivered",
    )
    assert [(d.ad_id, d.event_type, d.attempts) for d in delivered] == [
        (accepted.id, models.WebhookEventEnum.AD_REJECTED, 1)
    ]
    assert [e.id for e in api.webhooks_list.sync(client=client).results] == [hook.id]
    assert api.webhooks_retrieve.sync(client=client, endpoint_id=hook.id).url == receiver.url()
    assert api.webhooks_destroy.sync_detailed(client=client, endpoint_id=hook.id).status_code == 204
    assert api.webhooks_retrieve.sync(client=client, endpoint_id=hook.id).status == 404

    # Settings: read and change.
    assert api.settings_retrieve.sync(client=client).timezone == "UTC"
    changed = api.settings_partial_update.sync(
        client=client,
        body=models.PatchedRetailerSettings(report_contacts=["ads@nimbus-store.example"], timezone="Europe/Berlin"),
    )
    assert isinstance(changed, models.RetailerSettings), changed
    assert (changed.report_contacts, changed.timezone) == (["ads@nimbus-store.example"], "Europe/Berlin")


def test_the_example_of_docs_clients_md_runs_as_written(generated, live_server, retailer, webhook_worker):
    """The example users copy: run as a script, with the generated package importable."""
    guide = (Path(__file__).resolve().parent.parent / "docs" / "clients.md").read_text()
    example = guide.split("## Example", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    done = subprocess.run(
        [sys.executable, "-c", example],
        env={
            **os.environ,
            "PYTHONPATH": str(Path(generated.__file__).parent.parent),
            "ADPLATFORM_URL": live_server.url,
            "ADPLATFORM_KEY": api_key_create(retailer=retailer),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "approved []", done.stdout


def test_the_generated_client_changes_pauses_resumes_and_withdraws(generated, client, webhook_worker, intake_mode):
    api, models = generated.api, generated.models
    intake_mode("direct")
    submitted = api.ads_submit.sync(client=client, body=models.AdInput.from_dict(ad_payload(external_ref="gen-cmd")))
    ad = read_until_final(generated, client, submitted.id)
    assert ad.status == models.AdStatusEnum.APPROVED

    # A change needs the ETag of a read as If-Match; the answer is 202 with the new version.
    etag = api.ads_retrieve.sync_detailed(client=client, ad_id=ad.id).headers["ETag"]
    assert etag == f'"{ad.version}"'
    body = models.PatchedAdChangeInput.from_dict({"headline": "Trail running shoes, winter sale"})
    changed = api.ads_change.sync_detailed(client=client, ad_id=ad.id, if_match=etag, body=body)
    assert changed.status_code == 202, changed.content
    assert isinstance(changed.parsed, models.CommandResult) and changed.parsed.version == ad.version + 1
    assert changed.parsed.status == models.AdStatusEnum.APPROVED and changed.parsed.change.fields == ["headline"]
    wait_for(
        lambda: api.ads_retrieve.sync(client=client, ad_id=ad.id).headline.endswith("winter sale"),
        timeout=90,
        what="the change judged",
    )
    stale = api.ads_change.sync(client=client, ad_id=ad.id, if_match=etag, body=body)
    assert isinstance(stale, models.Problem) and stale.status == 412

    paused = api.ads_pause.sync(client=client, ad_id=ad.id)
    assert isinstance(paused, models.CommandResult) and paused.paused is True
    wait_for(lambda: api.ads_retrieve.sync(client=client, ad_id=ad.id).paused, timeout=90, what="paused")
    resumed = api.ads_resume.sync(client=client, ad_id=ad.id)
    assert isinstance(resumed, models.CommandResult) and resumed.paused is False
    wait_for(lambda: not api.ads_retrieve.sync(client=client, ad_id=ad.id).paused, timeout=90, what="resumed")
    withdrawn = api.ads_withdraw_batch.sync(client=client, body=models.AdIdsInput(ids=[ad.id]))
    assert isinstance(withdrawn, models.BatchCommandResponse) and withdrawn.accepted_count == 1
    assert withdrawn.results[0].status == models.AdStatusEnum.WITHDRAWN
    final = wait_for(
        lambda: (read := api.ads_retrieve.sync(client=client, ad_id=ad.id)).status.value == "withdrawn" and read,
        timeout=90,
        what="withdrawn",
    )
    assert final.version == ad.version + 5


def test_the_generated_client_manages_keys_appeals_and_batch_commands(generated, client, webhook_worker):
    """The operations the journeys above leave out, so that every operation of the schema is
    used through the generated client at least once."""
    api, models = generated.api, generated.models

    # Keys: make one, read, list, label, rotate, revoke.
    made = api.keys_create.sync(
        client=client, body=models.ApiKeyCreate(scopes=[models.ScopesEnum.READ], label="reports")
    )
    assert isinstance(made, models.ApiKeyCreated) and made.secret and made.scopes == [models.ScopesEnum.READ]
    assert api.keys_retrieve.sync(client=client, key_id=made.id).label == "reports"
    assert made.id in [key.id for key in api.keys_list.sync(client=client, page_size=100).results]
    relabelled = api.keys_partial_update.sync(
        client=client, key_id=made.id, body=models.PatchedApiKeyUpdate(label="nightly reports")
    )
    assert isinstance(relabelled, models.ApiKey) and relabelled.label == "nightly reports"
    rotated = api.keys_rotate.sync(client=client, key_id=made.id, body=models.ApiKeyRotate(grace_seconds=0))
    assert isinstance(rotated, models.ApiKeyCreated) and rotated.secret and rotated.id != made.id
    assert api.keys_destroy.sync_detailed(client=client, key_id=rotated.id).status_code == 204
    assert api.keys_retrieve.sync(client=client, key_id=rotated.id).status == models.ApiKeyStatusEnum.REVOKED

    # Appeal a rejected ad; pause a batch (one id unknown); withdraw the rejected ad.
    body = ad_payload(category="tobacco", headline="Fine cigars", external_ref="gen-appeal")
    submitted = api.ads_submit.sync(client=client, body=models.AdInput.from_dict(body))
    rejected = read_until_final(generated, client, submitted.id)
    assert rejected.status == models.AdStatusEnum.REJECTED
    appeal = api.ads_appeal.sync(
        client=client, ad_id=rejected.id, body=models.AppealInput(message="The licence is in the disclosure.")
    )
    assert isinstance(appeal, models.AppealDocument) and appeal.status == models.AppealDocumentStatusEnum.OPEN
    submitted = api.ads_submit.sync(client=client, body=models.AdInput.from_dict(ad_payload(external_ref="gen-bp")))
    approved = read_until_final(generated, client, submitted.id)
    paused = api.ads_pause_batch.sync(client=client, body=models.AdIdsInput(ids=[approved.id, uuid.uuid4()]))
    assert isinstance(paused, models.BatchCommandResponse) and (paused.accepted_count, paused.failed_count) == (1, 1)
    withdrawn = api.ads_withdraw.sync(client=client, ad_id=rejected.id)
    assert isinstance(withdrawn, models.CommandResult) and withdrawn.status == models.AdStatusEnum.WITHDRAWN
    # Both commands reach the read side (and the worker is done with them before the test's
    # database is emptied: a TRUNCATE beside its transaction deadlocked).
    wait_for(lambda: api.ads_retrieve.sync(client=client, ad_id=approved.id).paused, timeout=90, what="paused")
    wait_for(
        lambda: api.ads_retrieve.sync(client=client, ad_id=rejected.id).status == models.AdStatusEnum.WITHDRAWN,
        timeout=90,
        what="withdrawn",
    )
