"""YAML with ``!secret``, ``!include`` and ``!env_var``, remembering where each key was.

Every mapping is a ``LineDict`` that knows its file and the line of each key, so a schema
error deep inside an integration's config can still say "configuration.yaml, line 14".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

SECRETS_FILE = "secrets.yaml"


class ConfigError(Exception):
    """A configuration problem, located as precisely as we can."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
        integration: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.key = key
        self.integration = integration

    def __str__(self) -> str:
        where = self.file or "<config>"
        if self.line is not None:
            where += f", line {self.line}"
        parts = [where]
        if self.integration:
            parts.append(f"integration {self.integration}")
        if self.key:
            parts.append(f"key {self.key}")
        return f"{': '.join(parts)}: {self.message}"


class LineDict(dict[Any, Any]):
    """A mapping that remembers the file and line of itself and each of its keys."""

    file: str = "<config>"
    line: int | None = None
    key_lines: dict[Any, int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines = {}


class _Loader(yaml.SafeLoader):
    def __init__(
        self,
        stream: Any,
        path: Path,
        secrets: dict[str, Any] | None,
        includes: tuple[tuple[Path, int], ...] = (),
    ) -> None:
        super().__init__(stream)
        self.path = path
        self.secrets = secrets
        # The ``!include`` chain that led here, as (file, line of its !include) pairs.
        self.includes = includes


def _located(loader: _Loader, node: yaml.Node, message: str) -> ConfigError:
    return ConfigError(message, file=str(loader.path), line=node.start_mark.line + 1)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    result = LineDict()
    result.file = str(loader.path)
    result.line = node.start_mark.line + 1
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, bool) and isinstance(key_node, yaml.ScalarNode):
            # YAML 1.1 reads a plain on/off/yes/no as a bool; as a key it is a name
            # ({on: true} is a device command's parameters), so keep it as written.
            key = key_node.value
        try:
            hash(key)
        except TypeError:
            raise _located(loader, key_node, "a mapping key must be a plain value") from None
        if key in result:
            raise _located(loader, key_node, f"key {key!r} appears twice")
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _secret(loader: _Loader, node: yaml.Node) -> Any:
    name = loader.construct_scalar(node)  # type: ignore[arg-type]
    if loader.secrets is None:
        secrets_path = loader.path.parent / SECRETS_FILE
        loader.secrets = _load_file(secrets_path, {}) if secrets_path.is_file() else {}
    if name not in loader.secrets:
        raise _located(loader, node, f"secret {name!r} is not defined in {SECRETS_FILE}")
    return loader.secrets[name]


def _include(loader: _Loader, node: yaml.Node) -> Any:
    relative = loader.construct_scalar(node)  # type: ignore[arg-type]
    target = (loader.path.parent / str(relative)).resolve()
    if not target.is_file():
        raise _located(loader, node, f"included file {relative!r} does not exist")
    line = node.start_mark.line + 1
    chain = (*loader.includes, (loader.path.resolve(), line))
    if target in {path for path, _ in chain}:
        # Without this check the loader recurses until Python's recursion limit.
        steps = " -> ".join(f"{path.name} (line {at})" for path, at in chain)
        raise _located(
            loader, node, f"!include {relative!r} makes a cycle: {steps} -> {target.name}"
        )
    return _load_file(target, loader.secrets, chain)


def _env_var(loader: _Loader, node: yaml.Node) -> Any:
    parts = str(loader.construct_scalar(node)).split(maxsplit=1)  # type: ignore[arg-type]
    if not parts:
        raise _located(loader, node, "!env_var needs a variable name")
    value = os.environ.get(parts[0])
    if value is not None:
        return value
    if len(parts) == 2:
        return parts[1]
    raise _located(loader, node, f"environment variable {parts[0]} is not set and has no default")


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor("!secret", _secret)
_Loader.add_constructor("!include", _include)
_Loader.add_constructor("!env_var", _env_var)


def _load_file(
    path: Path, secrets: dict[str, Any] | None, includes: tuple[tuple[Path, int], ...] = ()
) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read: {error}", file=str(path)) from error
    loader = _Loader(text, path, secrets, includes)
    try:
        return loader.get_single_data()
    except ConfigError:
        raise
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise ConfigError(
            f"invalid YAML: {error.problem or error}",
            file=str(path),
            line=mark.line + 1 if mark else None,
        ) from error
    except yaml.YAMLError as error:
        raise ConfigError(f"invalid YAML: {error}", file=str(path)) from error
    finally:
        loader.dispose()


def load_yaml(path: str | Path) -> Any:
    """Load one YAML file with the hub's tags; raise ConfigError on any problem."""
    return _load_file(Path(path), None)
