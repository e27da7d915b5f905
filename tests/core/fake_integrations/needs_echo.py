"""Depends on echo; records the order it was set up in."""

from hub.hookspecs import hookimpl

ORDER: list[str] = []


@hookimpl
def hub_dependencies():
    return ["echo"]


@hookimpl
def hub_setup(hub, config):
    ORDER.append(hub.integration_state("echo"))
