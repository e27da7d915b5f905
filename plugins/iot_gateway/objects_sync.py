"""Bulk sync of object metadata from the gateway's object list, upserting by ``code``.

Upstream contract (path key ``objects``, default ``GET {base}/objects``): a JSON array of
``{code, name?, type?, description?, metadata?}``, or an object holding that array under
``objects`` or ``data``. An entry that does not fit is skipped and reported, the rest are
still applied; objects missing from the list are kept, never deleted.
"""

from __future__ import annotations

from typing import Any

import orjson
import voluptuous as vol

from hub.http.json import describe_invalid

from .errors import GatewayBadResponse
from .gateway import Gateway
from .object_fields import UPSTREAM_OBJECT_SCHEMA
from .objects_store import ObjectStore

MAX_REPORTED_SKIPS = 100


def extract_entries(body: bytes) -> list[Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise GatewayBadResponse("the IoT gateway's object list is not JSON") from None
    if isinstance(data, dict):
        for key in ("objects", "data"):
            if isinstance(data.get(key), list):
                return list(data[key])
    if isinstance(data, list):
        return data
    raise GatewayBadResponse(
        "the IoT gateway's object list is neither a JSON array nor an object holding one "
        "under 'objects' or 'data'"
    )


def validate_entries(entries: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The entries that fit, and a reason for each one that does not."""
    accepted: dict[str, dict[str, Any]] = {}
    skipped: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        try:
            fields = UPSTREAM_OBJECT_SCHEMA(entry)
        except vol.MultipleInvalid as error:
            skipped.append({"index": index, "reason": describe_invalid(error.errors[0])})
            continue
        except vol.Invalid as error:
            skipped.append({"index": index, "reason": describe_invalid(error)})
            continue
        code = fields["code"]
        if code in accepted:
            skipped.append(
                {"index": index, "code": code, "reason": "duplicate code in the gateway's list"}
            )
            continue
        # null name: keep the stored one (or use the code); null metadata: no properties.
        if fields.get("name") is None:
            fields.pop("name", None)
        if "metadata" in fields and fields["metadata"] is None:
            fields["metadata"] = {}
        accepted[code] = fields
    return list(accepted.values()), skipped


async def sync_objects(gateway: Gateway, store: ObjectStore) -> dict[str, Any]:
    answer = await gateway.call("objects", method="GET", headers={"Accept": "application/json"})
    if not 200 <= answer.status < 300:
        raise GatewayBadResponse(
            f"the IoT gateway answered {answer.status} to the object list request"
        )
    entries = extract_entries(answer.body)
    valid, skipped = validate_entries(entries)
    result = await store.upsert_by_code(valid)
    return {
        "received": len(entries),
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "skippedCount": len(skipped),
        "skipped": skipped[:MAX_REPORTED_SKIPS],
    }
