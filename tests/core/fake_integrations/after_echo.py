"""Uses echo when it is there; sorts before it, so only declared ordering puts it after."""

from hub.hookspecs import hookimpl

SEEN: list[tuple[str, str | None]] = []


def _echo_state(hub):
    return hub.integration_state("echo") if "echo" in hub.integrations else None


@hookimpl
def hub_after_dependencies():
    return ["echo"]


@hookimpl
def hub_setup(hub, config):
    SEEN.append(("setup", _echo_state(hub)))


@hookimpl
def hub_shutdown(hub):
    SEEN.append(("shutdown", _echo_state(hub)))
