"""One schema per contract: OpenAPI's request bodies come from the voluptuous schemas the
handlers validate with, and the whole document is valid OpenAPI 3.1."""

import jsonschema
import pytest
import voluptuous as vol
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator

from hub.auth import PUBLIC
from hub.http.device_routes import COMMAND_SCHEMA, DEVICE_EVENT_SCHEMA, RENAME_SCHEMA
from hub.http.openapi import describe, request_json_schema
from hub.registrar import Registrar, RegistrationError, Registrations

EVERY_BUILT_IN = ("auth", "mqtt_devices", "ble_provisioning", "cloud_link", "iot_gateway")


async def test_the_openapi_document_of_a_hub_with_every_built_in_is_valid_openapi_3_1(
    hub_factory, hub_client, mosquitto
):
    hub = await hub_factory(
        {
            "auth": {},
            "mqtt_devices": {"broker": mosquitto.url, "device_identities": "off"},
            "ble_provisioning": {},
            "cloud_link": {},
            "iot_gateway": {"base_url": "http://127.0.0.1:9", "app_id": "app"},
        }
    )
    client = await hub_client(hub)
    async with client.get("/api/openapi.json") as response:
        document = await response.json()
    validate(document, cls=OpenAPIV31SpecValidator)
    owners = {route.integration for route in hub.registrations.routes.values()}
    assert set(EVERY_BUILT_IN) <= owners
    bodies = [
        operation["requestBody"]["content"]["application/json"]["schema"]
        for item in document["paths"].values()
        for operation in item.values()
        if "requestBody" in operation
    ]
    assert len(bodies) >= 15
    for schema in bodies:  # each is a JSON Schema (2020-12, OpenAPI 3.1's dialect)
        jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    ("schema", "good", "bad"),
    [
        (COMMAND_SCHEMA, {"command": "on", "params": {"a": 1}}, {"command": "a b"}),
        (COMMAND_SCHEMA, {"command": "on"}, {"command": "on", "extra": 1}),
        (RENAME_SCHEMA, {"name": "Kitchen lamp"}, {"name": ""}),
        (RENAME_SCHEMA, {"name": "x" * 128}, {"name": "x" * 129}),
        # The two disagreed before: the hand-written one took any type string and seq.
        (DEVICE_EVENT_SCHEMA, {"type": "button", "data": [1], "seq": 3}, {"type": "a b"}),
        (DEVICE_EVENT_SCHEMA, {"type": "button", "data": None}, {"type": "b", "seq": -1}),
        (DEVICE_EVENT_SCHEMA, {"type": "b", "data": "x"}, {"type": "b", "other": 1}),
    ],
)
def test_the_json_schema_accepts_and_refuses_what_voluptuous_does(schema, good, bad):
    described = jsonschema.Draft202012Validator(request_json_schema(schema))
    schema(good)
    assert described.is_valid(good)
    with pytest.raises(vol.Invalid):
        schema(bad)
    assert not described.is_valid(bad)


def test_a_python_end_anchor_is_shown_as_ecmascript():
    schema = vol.Schema({"id": vol.Match(r"^[a-z]{1,4}\Z")})
    assert request_json_schema(schema)["properties"]["id"]["pattern"] == "^[a-z]{1,4}$"


def test_custom_validators_describe_themselves():
    @describe(type="string", minLength=2)
    def code(value):
        return value

    def undescribed(value: int) -> int:
        return value

    schema = request_json_schema(vol.Schema({"code": code, "count": undescribed}))
    assert schema["properties"] == {
        "code": {"type": "string", "minLength": 2},
        "count": {"type": "integer"},  # read from the type hint by voluptuous-openapi
    }


def test_the_registrar_converts_a_voluptuous_schema_and_keeps_a_hand_written_one():
    registrations = Registrations()
    registrar = Registrar(registrations, "garage")

    async def handler(request):
        raise NotImplementedError

    registrar.http_route("POST", "/a", handler, auth=PUBLIC, request_schema=RENAME_SCHEMA)
    registrar.http_route("POST", "/b", handler, auth=PUBLIC, request_schema={"type": "object"})
    schema = registrations.routes[("POST", "/a")].request_schema
    assert schema is not None
    assert schema["required"] == ["name"]
    assert registrations.routes[("POST", "/b")].request_schema == {"type": "object"}

    with pytest.raises(RegistrationError, match="garage: route POST /c: the request_schema"):
        registrar.http_route(
            "POST", "/c", handler, auth=PUBLIC, request_schema=vol.Schema({"x": frozenset([int])})
        )
