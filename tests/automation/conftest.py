"""Fixtures: a hub running the automation integration (and static_auth for the API)."""

from __future__ import annotations

from typing import Any

import pytest

from hub.testing import static_auth

TOKENS = {"owner-token": "owner", "admin-token": "admin", "member-token": "user"}


@pytest.fixture
def automation_hub(hub_factory):
    """``await automation_hub([automation, ...], **other_keys)`` → a running hub."""

    async def start(automations: list[dict[str, Any]], **extra: Any):
        config = {"static_auth": {"users": dict(TOKENS)}, "automation": automations, **extra}
        hub = await hub_factory(config, integrations={"static_auth": static_auth})
        assert hub.integration_state("automation") == "running", hub.integrations[
            "automation"
        ].error
        return hub

    return start
