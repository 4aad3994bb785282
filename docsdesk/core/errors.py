"""Client-facing API errors: one exception type, one JSON shape."""

from __future__ import annotations

from fastapi.responses import JSONResponse


class ApiError(Exception):
    """An error the client caused or must know about; rendered as
    ``{"error": {"code": ..., "message": ...}}`` with `status`."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"error": {"code": self.code, "message": self.message}},
            status_code=self.status,
            headers=self.headers,
        )
