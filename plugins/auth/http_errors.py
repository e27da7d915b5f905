"""Turns the store's refusals into the API's JSON errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from hub.http.errors import ApiError

from .errors import ConflictError, InvalidValueError, NotFoundError


@contextlib.contextmanager
def store_errors() -> Iterator[None]:
    try:
        yield
    except InvalidValueError as error:
        raise ApiError(400, "invalid_request", str(error)) from None
    except NotFoundError as error:
        raise ApiError(404, "not_found", str(error)) from None
    except ConflictError as error:
        raise ApiError(409, "conflict", str(error)) from None
