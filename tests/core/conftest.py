import pytest

from hub.testing import static_auth
from tests.core.fake_integrations import (
    after_echo,
    broken_setup,
    duplicate_route,
    echo,
    misspelt,
    needs_echo,
    slow_setup,
)

FAKES = {
    "static_auth": static_auth,
    "echo": echo,
    "needs_echo": needs_echo,
    "after_echo": after_echo,
    "broken_setup": broken_setup,
    "slow_setup": slow_setup,
    "misspelt": misspelt,
    "duplicate_route": duplicate_route,
}

TOKENS = {"owner-token": "owner", "user-token": "user"}


@pytest.fixture
def fakes():
    echo.SENT.clear()
    echo.EVENTS.clear()
    needs_echo.ORDER.clear()
    after_echo.SEEN.clear()
    return FAKES


@pytest.fixture
async def authed_hub(hub_factory, fakes):
    """A hub with the echo integration and static tokens for user routes."""
    return await hub_factory(
        {"static_auth": {"users": TOKENS, "agent_token": "agent-secret"}, "echo": {}},
        integrations=fakes,
    )
