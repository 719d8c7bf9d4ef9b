"""/api/v1/schema/ documents every endpoint, body and error; /api/v1/docs/ works offline."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

EXPECTED_OPERATIONS = {
    ("get", "/api/v1/approval-policies/"),
    ("post", "/api/v1/approval-policies/"),
    ("get", "/api/v1/accounts/"),
    ("post", "/api/v1/accounts/"),
    ("get", "/api/v1/accounts/{id}/"),
    ("patch", "/api/v1/accounts/{id}/"),
    ("get", "/api/v1/contacts/"),
    ("post", "/api/v1/contacts/"),
    ("get", "/api/v1/contacts/{id}/"),
    ("patch", "/api/v1/contacts/{id}/"),
    ("get", "/api/v1/products/"),
    ("post", "/api/v1/products/"),
    ("get", "/api/v1/products/{id}/"),
    ("patch", "/api/v1/products/{id}/"),
    ("get", "/api/v1/opportunities/"),
    ("post", "/api/v1/opportunities/"),
    ("get", "/api/v1/opportunities/{id}/"),
    ("patch", "/api/v1/opportunities/{id}/"),
    ("get", "/api/v1/opportunities/{id}/transitions/"),
    ("post", "/api/v1/opportunities/{id}/transitions/{name}/"),
    ("get", "/api/v1/opportunities/{id}/history/"),
    ("get", "/api/v1/approvals/"),
    ("get", "/api/v1/handoffs/"),
    ("post", "/api/v1/handoffs/{id}/retry/"),
    ("post", "/api/v1/handoffs/{id}/complete/"),
    ("get", "/api/v1/opportunities/{id}/documents/"),
    ("post", "/api/v1/opportunities/{id}/documents/"),
    ("get", "/api/v1/documents/{id}/"),
    ("delete", "/api/v1/documents/{id}/"),
    ("get", "/api/v1/documents/{id}/download/"),
    ("get", "/api/v1/evidence-requirements/"),
    ("post", "/api/v1/evidence-requirements/"),
    ("get", "/api/v1/evidence-requirements/{id}/"),
    ("delete", "/api/v1/evidence-requirements/{id}/"),
    ("post", "/api/v1/inbound/esign/"),
    ("get", "/api/v1/exchange-rates/"),
    ("post", "/api/v1/exchange-rates/"),
    ("get", "/api/v1/events/"),
    ("post", "/api/v1/auth/logout/"),
    ("post", "/api/v1/auth/logoutall/"),
    ("get", "/api/v1/webhook-endpoints/"),
    ("post", "/api/v1/webhook-endpoints/"),
    ("get", "/api/v1/webhook-endpoints/{id}/"),
    ("patch", "/api/v1/webhook-endpoints/{id}/"),
    ("delete", "/api/v1/webhook-endpoints/{id}/"),
    ("post", "/api/v1/webhook-endpoints/{id}/rotate-secret/"),
    ("post", "/api/v1/webhook-endpoints/{id}/replay/"),
    ("get", "/api/v1/webhook-deliveries/"),
    ("get", "/api/v1/opportunities/{id}/amendments/"),
    ("post", "/api/v1/opportunities/{id}/amendments/"),
    ("post", "/api/v1/opportunities/{id}/amendments/dry-run/"),
    ("get", "/api/v1/amendments/"),
    ("get", "/api/v1/amendments/{id}/"),
    ("post", "/api/v1/amendments/{id}/transitions/{name}/"),
}


@pytest.fixture
def schema(api, rep):
    response = api(rep).get("/api/v1/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    return response.json()


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "patch", "put", "delete"):
                yield method, path, operation


def test_every_endpoint_is_documented_and_nothing_else(schema):
    assert schema["openapi"].startswith("3.")
    assert {(m, p) for m, p, _ in operations(schema)} == EXPECTED_OPERATIONS


def test_every_error_response_is_a_problem(schema):
    problem = schema["components"]["schemas"]["Problem"]
    assert set(problem["required"]) >= {"type", "title", "status", "detail", "code", "errors"}
    item = schema["components"]["schemas"]["ProblemError"]
    assert set(item["required"]) == {"code", "field", "message"}
    for method, path, operation in operations(schema):
        responses = operation["responses"]
        assert {"401", "403", "429"} <= set(responses), (method, path)
        for status, response in responses.items():
            if int(status) >= 400:
                content = response["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
                assert content["application/problem+json"]["schema"]["$ref"].endswith("/Problem")


def test_writes_document_bodies_idempotency_and_their_errors(schema):
    for method, path, operation in operations(schema):
        success = next(s for s in operation["responses"] if s.startswith("2"))
        if success != "204":
            assert "content" in operation["responses"][success], (method, path)
        if method == "post":
            headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
            assert "Idempotency-Key" in headers, path
            assert {"409", "422"} <= set(operation["responses"]), path
        if (
            method in ("patch", "post")
            and not path.endswith(("/retry/", "/rotate-secret/"))
            and not path.startswith("/api/v1/auth/")
        ):
            assert "requestBody" in operation, (method, path)
    patch = schema["paths"]["/api/v1/opportunities/{id}/"]["patch"]
    assert "412" in patch["responses"]
    assert "If-Match" in [p["name"] for p in patch["parameters"]]
    get = schema["paths"]["/api/v1/opportunities/{id}/"]["get"]
    assert "ETag" in get["responses"]["200"]["headers"]


def test_lists_say_cursor_and_the_200_cap(schema):
    for method, path, operation in operations(schema):
        if method != "get" or "{id}" in path:
            continue
        params = {p["name"]: p for p in operation.get("parameters", [])}
        if path == "/api/v1/events/":
            assert params["limit"]["schema"]["maximum"] == 500
            continue
        assert params["limit"]["schema"]["maximum"] == 200, path
        assert "cursor" in params and "offset" not in params, path
    filters = {p["name"] for p in schema["paths"]["/api/v1/opportunities/"]["get"]["parameters"]}
    assert {
        "stage",
        "owner",
        "account",
        "close_date_after",
        "close_date_before",
        "updated_since",
        "search",
        "ordering",
    } <= filters


def test_the_opportunity_schema_has_the_spec_fields(schema):
    opportunity = schema["components"]["schemas"]["Opportunity"]["properties"]
    from tests.api.test_opportunities import SPEC_FIELDS

    assert set(opportunity) == SPEC_FIELDS
    assert (
        opportunity["amount"]["type"] == "string" and opportunity["amount"]["format"] == "decimal"
    )
    write = schema["components"]["schemas"]["OpportunityWriteRequest"]["properties"]
    assert "stage" not in write and "line_items" in write


def test_the_yaml_schema_too(api, rep):
    response = api(rep).get("/api/v1/schema/?format=yaml")
    assert response.status_code == 200 and b"openapi: 3" in response.content


def test_swagger_ui_is_served_from_local_static_files(rep):
    client = Client()
    client.force_login(rep)
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert not re.search(r"https?://", html.replace("http://testserver", "")), "no CDN"
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert any("swagger-ui-bundle" in a for a in assets)
    assert any(a.endswith(".css") for a in assets)
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        response.close()
    assert "/api/v1/schema/" in html


def test_the_schema_states_what_the_validators_enforce(schema):
    components = schema["components"]["schemas"]
    for method, path, operation in operations(schema):
        assert "503" in operation["responses"], (method, path)
        assert "400" in operation["responses"], (method, path)  # unknown query parameters
        if method in ("post", "patch"):
            assert "413" in operation["responses"], (method, path)
        description = operation.get("description", "")
        for internal in ("Base of the resource views", "Runs POST handlers", "List + create"):
            assert internal not in description, (method, path)
    assert "410" in schema["paths"]["/api/v1/events/"]["get"]["responses"]

    def prop(component, name):
        return components[component]["properties"][name]

    amount = prop("OpportunityWriteRequest", "amount")
    # Up to 4 decimals (ISO 4217's largest exponent); each currency's own is the domain's.
    assert amount["pattern"] == r"^[0-9]{1,14}(\.[0-9]{1,4})?$"
    assert prop("LineItemWriteRequest", "unit_price")["pattern"] == amount["pattern"]
    currency = components["CurrencyEnum"]["enum"]
    assert "USD" in currency and "EUR" in currency and "ABC" not in currency
    assert "XAU" not in currency  # gold is not money with minor units
    country = components["BillingCountryEnum"]["enum"]
    assert "DE" in country and "XX" not in country  # "" is a separate BlankEnum
    assert components["OpportunityWriteRequest"]["additionalProperties"] is False
    params = {p["name"]: p for p in schema["paths"]["/api/v1/opportunities/"]["get"]["parameters"]}
    for name in ("account", "owner"):
        assert params[name]["schema"]["minimum"] == 1 and not params[name]["schema"].get("nullable")


def test_writes_have_examples_and_objects_link_to_their_operations(schema):
    paths = schema["paths"]
    for path in ("/api/v1/accounts/", "/api/v1/contacts/", "/api/v1/products/"):
        body = paths[path]["post"]["requestBody"]["content"]["application/json"]
        assert body.get("examples"), path
    create = paths["/api/v1/opportunities/"]["post"]
    assert create["requestBody"]["content"]["application/json"]["examples"]
    links = create["responses"]["201"]["links"]
    assert {"Retrieve", "Update", "Transitions", "History"} <= set(links)
    assert links["Retrieve"]["parameters"] == {"id": "$response.body#/id"}
