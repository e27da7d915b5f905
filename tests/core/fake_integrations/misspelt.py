"""Implements a hook that does not exist; loading must say so."""

from hub.hookspecs import hookimpl


@hookimpl
def hub_setpu(hub, config):
    return None
