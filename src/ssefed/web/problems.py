"""RFC 9457 problem details: every error answer is JSON, never a stack trace."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from ssefed.domain.errors import DomainError, InvalidInput
from ssefed.web.redact import loggable_path

log = logging.getLogger("ssefed.web")
PROBLEM_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str = "", **extra: Any) -> web.Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return web.Response(status=status, text=json.dumps(body, ensure_ascii=False),
                        content_type=PROBLEM_TYPE)


class Problem(Exception):
    """Raised by handlers and helpers; the middleware answers it as problem+json."""

    def __init__(self, status: int, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


@web.middleware
async def problems_middleware(request: web.Request, handler) -> web.StreamResponse:  # noqa: ANN001
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == PROBLEM_TYPE:
            raise
        detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else ""
        return problem(exc.status, exc.reason, detail)
    except Problem as exc:
        return problem(exc.status, exc.title, exc.detail, **exc.extra)
    except InvalidInput as exc:
        return problem(exc.status, "Invalid input", exc.message, field=exc.field)
    except DomainError as exc:
        return problem(exc.status, type(exc).__name__, str(exc))
    except Exception:  # noqa: BLE001
        log.exception("unhandled error on %s %s", request.method, loggable_path(request))
        return problem(500, "Internal Server Error", "the error was logged on the node")


async def read_body(request: web.Request, max_bytes: int) -> bytes:
    """The whole request body, however it arrives, or a 413 Problem past ``max_bytes``."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise Problem(413, "Payload Too Large", f"the body must be at most {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise Problem(413, "Payload Too Large", f"the body must be at most {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: web.Request, max_bytes: int) -> Any:
    """Read a bounded JSON body or raise a 4xx Problem."""
    raw = await read_body(request, max_bytes)
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Problem(400, "Bad Request", f"the body is not JSON: {exc}") from None
