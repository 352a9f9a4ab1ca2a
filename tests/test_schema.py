"""The OpenAPI schema: valid OpenAPI 3, complete (examples, problem responses, problem types,
response headers), served with offline docs. Whether the live API keeps to it is
tests/test_schemathesis.py's; whether a generated client works with it, test_generated_client.py's."""

import json
import re

import pytest
from drf_spectacular.validation import validate_schema

from adplatform.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPES

pytestmark = pytest.mark.django_db


@pytest.fixture
def openapi(client) -> dict:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def test_the_schema_is_valid_openapi_3(openapi):
    assert openapi["openapi"].startswith("3.")
    validate_schema(openapi)  # raises on an invalid document


def test_every_operation_has_request_and_response_examples(openapi):
    operations = [(path, method, op) for path, item in openapi["paths"].items() for method, op in item.items()]
    assert len(operations) >= 14
    for path, method, operation in operations:
        success = [
            body for status, body in operation["responses"].items() if status.startswith("2") and "content" in body
        ]
        assert success or method == "delete", (path, method)  # a 204 has no body to show
        assert all(content.get("examples") for body in success for content in body["content"].values()), (path, method)
        for content in operation.get("requestBody", {}).get("content", {}).values():
            assert content.get("examples"), (path, method)


def test_every_operation_documents_its_problem_answers(openapi):
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            for status in ("401", "406", "429"):
                assert PROBLEM_CONTENT_TYPE in responses[status]["content"], (path, method, status)
            if "{" in path:
                assert "`not-found`" in responses["404"]["description"], (path, method)
            if any(p["in"] in ("path", "query") for p in operation.get("parameters", [])):
                # gunicorn refuses an over-long request line before any view (schemathesis found
                # an undocumented 414 on GET /api/v1/webhooks/{endpoint_id}/deliveries).
                assert "`uri-too-long`" in responses["414"]["description"], (path, method)
            if method == "post":
                assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in operation["parameters"]), (
                    path
                )
                assert "`idempotency-key-reused`" in responses["422"]["description"], path
                assert "`idempotency-key-in-flight`" in responses["409"]["description"], path
            for status, body in responses.items():
                if status.startswith(("4", "5")):
                    content = body["content"][PROBLEM_CONTENT_TYPE]
                    assert content["schema"]["$ref"].startswith("#/components/schemas/") and content["examples"]
                    slugs = re.findall(r"`([a-z-]+)`", body["description"])
                    assert slugs and all(PROBLEM_TYPES[slug].status == int(status) for slug in slugs), (
                        path,
                        method,
                        status,
                    )
    batch = openapi["paths"]["/api/v1/ads/batch"]["post"]["responses"]["422"]["description"]
    assert all(f"`{slug}`" in batch for slug in ("batch-rejected", "batch-too-large", "idempotency-key-reused"))


def test_the_problem_types_are_listed_in_the_schema(openapi):
    listed = {t["type"]: t for t in openapi["components"]["x-problem-types"]}
    assert set(listed) == {kind.uri for kind in PROBLEM_TYPES.values()}
    assert all(t["status"] and t["title"] and t["meaning"] for t in listed.values())
    assert all(kind.uri in openapi["info"]["description"] for kind in PROBLEM_TYPES.values())
    assert openapi["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A retailer's API key: `Authorization: Bearer adp_…`.",
    }


def test_the_docs_page_renders_the_schema_with_local_assets(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    # The page loads its start-up script from ?script (CSP: no inline script), which names the schema.
    assert "/api/schema/" in client.get("/api/docs/", {"script": ""}).content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        served = client.get(f"/static/drf_spectacular_sidecar/swagger-ui-dist/{asset}")
        assert served.status_code == 200, asset
        assert b"".join(served.streaming_content if served.streaming else [served.content])


def test_every_answer_documents_its_headers(openapi):
    headers = openapi["components"]["headers"]
    assert set(headers) >= {"X-Request-ID", "Retry-After", "Idempotent-Replayed", "Location", "RateLimit-Limit"}
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                names = set(response["headers"])
                assert "X-Request-ID" in names, (path, method, status)
                assert ("RateLimit-Remaining" in names) == (status not in ("401", "406")), (path, method, status)
                assert ("Retry-After" in names) == (status in ("409", "429", "503")), (path, method, status)
                # Every POST is idempotent, and so is the change of an ad (PATCH).
                idempotent = method == "post" or operation["operationId"] == "ads_change"
                assert ("Idempotent-Replayed" in names) == (idempotent and status < "500"), (path, method)
    submit = openapi["paths"]["/api/v1/ads"]["post"]["responses"]
    assert "Location" in submit["202"]["headers"] and "Location" in submit["201"]["headers"]


def test_the_schema_gives_clients_types_they_can_use(openapi):
    schemas = openapi["components"]["schemas"]
    # Always-present fields are required (nullable where they may be null).
    assert set(schemas["AdView"]["required"]) == set(schemas["AdView"]["properties"])
    assert set(schemas["WebhookDelivery"]["required"]) == set(schemas["WebhookDelivery"]["properties"])
    assert schemas["WebhookEndpoint"]["properties"]["events"]["items"] == {
        "$ref": "#/components/schemas/WebhookEventEnum"
    }
    for name in ("Accepted", "BatchResult", "AdView"):
        assert "#/components/schemas/AdStatusEnum" in json.dumps(schemas[name]["properties"]["status"]), name
    # One enum per set of values, which the query parameters share.
    enums = [frozenset(schema["enum"]) for schema in schemas.values() if "enum" in schema]
    assert len(enums) == len(set(enums))
    parameters = json.dumps([item["get"].get("parameters", []) for item in openapi["paths"].values() if "get" in item])
    assert '"enum"' not in parameters
    # Ids are UUIDs; pages hand over the cursor that list operations take.
    ad_id = openapi["paths"]["/api/v1/ads/{ad_id}"]["get"]["parameters"][0]
    assert ad_id["schema"] == {"type": "string", "format": "uuid"}
    assert schemas["PaginatedAdViewList"]["required"] == ["results", "next", "next_cursor"]
    assert "next_cursor" in schemas["Stats"]["required"]
    # The CSV is text, not a binary file.
    csv = openapi["paths"]["/api/v1/reports/failed-ads.csv"]["get"]["responses"]["200"]["content"]["text/csv"]
    assert csv["schema"] == {"type": "string"}


def test_every_operation_describes_itself_for_users(openapi):
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            description = operation.get("description", "")
            assert operation.get("summary") and description, (path, method)
            assert not description.startswith("/api/") and " GET " not in f" {description} ", (path, method)


def test_every_operation_names_the_scope_its_key_needs(openapi):
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            if operation.get("security") and path.startswith("/api/v1/"):
                scope = operation["x-required-scope"]
                assert f"`{scope}`" in operation["description"], (path, method)
                assert "`insufficient-scope`" in operation["responses"]["403"]["description"], (path, method)
    assert openapi["paths"]["/api/v1/ads"]["post"]["x-required-scope"] == "submit"
    assert openapi["paths"]["/api/v1/keys/{key_id}/rotate"]["post"]["x-required-scope"] == "keys"


def test_every_path_id_is_a_uuid_and_every_idempotency_key_is_described_alike(openapi):
    """On every operation, not only the first that had them (the commands on one ad took
    `ad_id` as text, and the change an unconstrained Idempotency-Key)."""
    keys = []
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    assert parameter["schema"] == {"type": "string", "format": "uuid"}, (method, path, parameter)
                if parameter["name"] == "Idempotency-Key":
                    keys.append(parameter["schema"])
    assert len(keys) > 10 and all(key == keys[0] and key["maxLength"] == 255 for key in keys), keys


def test_every_filter_of_the_ad_list_is_documented(openapi):
    from ads_read.selectors import AdFilter

    operation = openapi["paths"]["/api/v1/ads"]["get"]
    documented = {parameter["name"] for parameter in operation["parameters"]}
    assert set(AdFilter.base_filters) <= documented, set(AdFilter.base_filters) - documented
