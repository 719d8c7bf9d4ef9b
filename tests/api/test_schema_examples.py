"""Every operation of /api/v1/schema/ shows what it answers, and every example is true.

The schema is walked as served: each 2xx response with a body carries at least one
example, each problem response (4xx/5xx) too, and every example — inline or a
``components/examples`` reference — validates against the schema of the response it sits
on (OpenAPI 3.0 turned into JSON Schema; objects closed, so a misspelt or stale field
fails). A few problem examples are compared with what the API really answers.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from api.examples import SHARED_PROBLEMS
from tests.factories import OpportunityFactory, make_user

from .conftest import PROBLEM

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")
# Keywords of OpenAPI 3.0 schemas that JSON Schema does not have (``nullable`` is
# rewritten below; the others only annotate).
OPENAPI_ONLY = {
    "nullable",
    "readOnly",
    "writeOnly",
    "example",
    "xml",
    "externalDocs",
    "discriminator",
}


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker) -> dict[str, Any]:
    with django_db_blocker.unblock():
        user = make_user("rep")
        client = APIClient()
        client.force_authenticate(user)
        response = client.get("/api/v1/schema/")
        user.delete()
    assert response.status_code == 200
    return json.loads(response.content)


def operations(schema: dict[str, Any]):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path, operation


def to_json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema (2020-12): ``nullable`` becomes a null
    alternative, references point into ``$defs``, and an object that lists its properties
    takes no other (the API's response objects have exactly the fields they list)."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in OPENAPI_ONLY:
            continue
        if key == "properties":
            out[key] = {name: to_json_schema(prop) for name, prop in value.items()}
        elif key == "$ref":
            out[key] = value.replace("#/components/schemas/", "#/$defs/")
        else:
            out[key] = to_json_schema(value)
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def validator_for(schema: dict[str, Any], response_schema: dict[str, Any]) -> Any:
    root = to_json_schema(response_schema)
    root["$defs"] = {
        name: to_json_schema(component)
        for name, component in schema["components"]["schemas"].items()
    }
    cls = jsonschema.Draft202012Validator
    return cls(root, format_checker=cls.FORMAT_CHECKER)


def example_values(schema: dict[str, Any], media: dict[str, Any]) -> dict[str, Any]:
    """The media type's examples by name, references resolved."""
    values: dict[str, Any] = {}
    for name, example in (media.get("examples") or {}).items():
        if "$ref" in example:
            example = schema["components"]["examples"][example["$ref"].rsplit("/", 1)[1]]
        values[name] = example["value"]
    if "example" in media:
        values["example"] = media["example"]
    return values


def every_example(schema: dict[str, Any]):
    for method, path, operation in operations(schema):
        for status, response in operation["responses"].items():
            for media_type, media in (response.get("content") or {}).items():
                for name, value in example_values(schema, media).items():
                    yield f"{method.upper()} {path} {status} {media_type} {name}", media, value


def test_every_operation_has_a_2xx_response_example(schema):
    missing, bodiless = [], []
    for method, path, operation in operations(schema):
        success = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
        assert success, (method, path)
        for status, response in success.items():
            if "content" not in response:
                bodiless.append((method, path, status))
                continue
            for media_type, media in response["content"].items():
                if not example_values(schema, media):
                    missing.append(f"{method.upper()} {path} {status} {media_type}")
    assert missing == []
    # Only a 204 has no body, hence nothing to show.
    assert {status for _m, _p, status in bodiless} <= {"204"}


def test_every_problem_response_has_an_example_of_its_own_status(schema):
    missing, wrong = [], []
    for method, path, operation in operations(schema):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            values = example_values(schema, response["content"][PROBLEM])
            if not values:
                missing.append(f"{method.upper()} {path} {status}")
            for name, value in values.items():
                if value["status"] != int(status) or value["type"] != (
                    "urn:closedwon:problem:" + value["code"]
                ):
                    wrong.append(f"{method.upper()} {path} {status} {name}")
    assert missing == [] and wrong == []


def test_shared_problem_examples_are_components_used_by_reference(schema):
    components = schema["components"]["examples"]
    shared = {name for entries in SHARED_PROBLEMS.values() for name, _m, _v in entries}
    assert shared <= set(components)
    unauthorized = schema["paths"]["/api/v1/opportunities/"]["get"]["responses"]["401"]
    assert unauthorized["content"][PROBLEM]["examples"] == {
        "ProblemNotAuthenticated": {"$ref": "#/components/examples/ProblemNotAuthenticated"}
    }


def test_every_example_is_valid_against_its_response_schema(schema):
    checked, invalid = 0, []
    for where, media, value in every_example(schema):
        errors = sorted(
            validator_for(schema, media["schema"]).iter_errors(value), key=lambda e: e.path
        )
        checked += 1
        if errors:
            invalid.append(f"{where}: {errors[0].message} at {list(errors[0].absolute_path)}")
    assert invalid == []
    assert checked > 150  # every operation's 2xx and problem examples


def test_list_examples_show_the_cursor_envelope(schema):
    for method, path, operation in operations(schema):
        media = operation["responses"].get("200", {}).get("content", {}).get("application/json")
        if method != "get" or media is None or "Paginated" not in json.dumps(media["schema"]):
            continue
        for value in example_values(schema, media).values():
            assert set(value) == {"results", "next", "previous"}, path
            assert value["results"], path
            assert value["next"] is None or value["next"].startswith(
                "https://closedwon.example.com" + path.split("{")[0]
            ), path


def test_the_check_fails_on_a_wrong_example(schema):
    """The validator is not a formality: a stale field, a missing one, a wrong type, a
    number where the API sends a decimal string and a bad date each fail."""
    media = schema["paths"]["/api/v1/opportunities/{id}/"]["get"]["responses"]["200"]
    media = media["content"]["application/json"]
    good = next(iter(example_values(schema, media).values()))
    validator = validator_for(schema, media["schema"])
    assert list(validator.iter_errors(good)) == []
    for change in (
        lambda v: v.update(stage_name="Won"),
        lambda v: v.pop("version"),
        lambda v: v.update(version="6"),
        lambda v: v.update(amount=24000),
        lambda v: v.update(closed_at="yesterday"),
        lambda v: v.update(stage="won"),
        lambda v: v["line_items"][0].update(sku="TPS-SEAT"),
    ):
        bad = copy.deepcopy(good)
        change(bad)
        assert list(validator.iter_errors(bad)), bad


def test_the_schema_with_its_examples_is_valid_openapi_and_warning_free(tmp_path):
    # --validate checks the document against the OpenAPI 3 specification; --fail-on-warn
    # turns any example drf-spectacular could not place into a failure.
    target = tmp_path / "schema.json"
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", target
    )
    assert json.loads(target.read_text())["components"]["examples"]


def _shared(name: str) -> dict[str, Any]:
    return next(v for entries in SHARED_PROBLEMS.values() for n, _m, v in entries if n == name)


def _same_problem(answer: Any, example: dict[str, Any]) -> None:
    assert answer["Content-Type"].startswith(PROBLEM)
    body = json.loads(answer.content)
    for key in ("type", "title", "status", "code"):
        assert body[key] == example[key], (key, body, example)
    assert [e["code"] for e in body["errors"]] == [e["code"] for e in example["errors"]]


def test_shared_problem_examples_are_what_the_api_answers(api, settings):
    """The same exceptions, raised by real requests, give the same problems."""
    rep = make_user("rep")
    _same_problem(api(None).get("/api/v1/opportunities/"), _shared("ProblemNotAuthenticated"))
    _same_problem(
        api(rep).get("/api/v1/opportunities/?updated_sinse=2025-01-01"),
        _shared("ProblemUnknownParameter"),
    )
    _same_problem(
        api(rep).post("/api/v1/accounts/", "name=Initech", content_type="text/plain"),
        _shared("ProblemUnsupportedMediaType"),
    )
    _same_problem(
        api(rep).post("/api/v1/products/", {"sku": "X-1", "name": "X"}, format="json"),
        _shared("ProblemPermissionDenied"),
    )
    _same_problem(api(rep).get("/api/v1/accounts/999999/"), _shared("ProblemNotFound"))


def test_operation_problem_examples_are_what_the_api_answers(api):
    """An operation's own examples too: the gate and the self-approval of the dry run's
    deal, as the transition endpoint answers them."""
    rep = make_user("rep")
    opportunity = OpportunityFactory(owner=rep, stage="negotiation", contract_id="", po_number="")
    run = "/api/v1/opportunities/{id}/transitions/{name}/"
    media = schema_of(api, rep)["paths"][run]["post"]["responses"]
    gate = media["422"]["content"][PROBLEM]["examples"]["GateFailed"]["value"]
    answer = api(rep).post(
        run.format(id=opportunity.pk, name="submit_for_approval"), {}, format="json"
    )
    body = json.loads(answer.content)
    assert answer.status_code == 422
    assert {k: body[k] for k in ("type", "title", "code")} == {
        k: gate[k] for k in ("type", "title", "code")
    }
    # The example's unmet requirements are real requirement codes the gate reports.
    assert {e["code"] for e in gate["errors"]} & {e["code"] for e in body["errors"]}
    own = media["403"]["content"][PROBLEM]["examples"]["OwnDeal"]["value"]
    assert own["code"] == "self_approval_forbidden"


def schema_of(api, user) -> dict[str, Any]:
    return json.loads(api(user).get("/api/v1/schema/").content)
