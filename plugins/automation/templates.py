"""Value templates (``{{ trigger.state.temp }}``), rendered by a sandboxed Jinja2.

Why Jinja2 and not an expression language of our own: Home Assistant users already write
these templates, and Jinja2's ``ImmutableSandboxedEnvironment`` is a maintained sandbox: no
attribute starting with ``_``, no method that mutates a list or dict, ``range`` capped.
Templates are rendered to native types (``{{ 30 + 1 }}`` is the number 31, not "31"), and
an undefined name is an error (shown in the trace) rather than an empty string.
Only strings holding ``{{`` or ``{%`` are templates; everything else is used as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.nativetypes import NativeCodeGenerator, NativeTemplate, native_concat
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_TEMPLATE_LENGTH = 4096


class TemplateRenderError(Exception):
    """A template that cannot be rendered; the message names the template."""


class _NativeSandbox(ImmutableSandboxedEnvironment):
    code_generator_class = NativeCodeGenerator
    template_class = NativeTemplate
    # As jinja2's own NativeEnvironment does (with a bare ignore): Environment declares a
    # str-joining concat, and native rendering returns whatever value the template made.
    concat = staticmethod(native_concat)  # type: ignore[assignment]


_ENVIRONMENT = _NativeSandbox(undefined=StrictUndefined, autoescape=False)


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def check_template(value: str) -> str:
    """Compile once at validation so a syntax error is a config error, not a run error."""
    if len(value) > MAX_TEMPLATE_LENGTH:
        raise ValueError(f"template longer than {MAX_TEMPLATE_LENGTH} characters")
    try:
        _ENVIRONMENT.from_string(value)
    except TemplateError as error:
        raise ValueError(f"invalid template: {error}") from None
    return value


def render(value: Any, variables: Mapping[str, Any]) -> Any:
    """``value`` with every template in it rendered (dicts and lists are walked)."""
    if is_template(value):
        try:
            return _ENVIRONMENT.from_string(value).render(dict(variables))
        except TemplateError as error:
            raise TemplateRenderError(f"template {value!r}: {error}") from None
        except Exception as error:  # a filter given the wrong type, a division by zero
            raise TemplateRenderError(f"template {value!r}: {error}") from None
    if isinstance(value, dict):
        return {key: render(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, variables) for item in value]
    return value
