"""One error type for the API, so every failure has the same JSON shape."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """Raised anywhere below a handler; the error middleware renders it as
    ``{"error": {"code": ..., "message": ...}}`` with ``status``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
        close: bool = False,
    ) -> None:
        super().__init__(message)
        #: End the connection after answering (the client's stream cannot be trusted).
        self.close = close
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.details = details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}
