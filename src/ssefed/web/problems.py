"""RFC 9457 problem details: every error answer is JSON, never a stack trace."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from ssefed.domain.errors import DomainError, InvalidInput
from ssefed.vocab import strictjson
from ssefed.web.keys import CONFIG
from ssefed.web.redact import loggable_path

log = logging.getLogger("ssefed.web")
PROBLEM_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str = "", *, retry_after: int | None = None,
            **extra: Any) -> web.Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = web.Response(status=status, text=json.dumps(body, ensure_ascii=False),
                            content_type=PROBLEM_TYPE)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


class Problem(Exception):
    """Raised by handlers and helpers; the middleware answers it as problem+json."""

    def __init__(self, status: int, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


@web.middleware
async def problems_middleware(request: web.Request, handler) -> web.StreamResponse:
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
    except Exception:
        log.exception("unhandled error on %s %s", request.method, loggable_path(request))
        return problem(500, "Internal Server Error", "the error was logged on the node")


async def read_body(request: web.Request, max_bytes: int) -> bytes:
    """The whole request body, however it arrives, or a 413 Problem past ``max_bytes``."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise _too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(max_bytes: int) -> Problem:
    return Problem(413, "Payload Too Large", f"the body must be at most {max_bytes} bytes",
                   field="body")


def media_type(request: web.Request) -> str:
    """The request's Content-Type without its parameters, in lower case."""
    return request.headers.get("Content-Type", "").split(";")[0].strip().lower()


def require_json_type(request: web.Request) -> None:
    """415 unless the body is sent as JSON: application/json or application/*+json
    (activity+json, ld+json), parameters such as a profile allowed."""
    media = media_type(request)
    if media != "application/json" and not (media.startswith("application/")
                                            and media.endswith("+json")):
        raise Problem(415, "Unsupported Media Type",
                      f"send JSON (application/json or application/activity+json), "
                      f"not {media or 'a body without a Content-Type'}", field="Content-Type")


def parse_json(request: web.Request, raw: bytes) -> Any:
    """``raw`` read by the one rule for received JSON (vocab/strictjson), or a Problem:
    415 not JSON, 400 nested deeper than max_json_depth or a number out of bounds."""
    try:
        return strictjson.loads(raw, max_depth=request.app[CONFIG].federation.max_json_depth)
    except strictjson.JSONRefused as exc:
        raise Problem(exc.status, exc.title, exc.detail, field=exc.field) from None


async def read_json(request: web.Request, max_bytes: int) -> Any:
    """Read a bounded JSON body sent as JSON, or raise a 4xx Problem naming the field."""
    require_json_type(request)
    return parse_json(request, await read_body(request, max_bytes))


MAX_PARAMETER = 10**9


def whole_number(text: str, field: str, *, status: int = 400) -> int:
    """``text`` as a plain decimal integer of at most 10^9 (ASCII digits, an optional
    minus: not "1_000", "²", "1e3" or a 40-digit number), or a Problem naming ``field``."""
    title = "Bad Request" if status == 400 else "Not Found"
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()):
        raise Problem(status, title, f"{field} must be an integer", field=field)
    if len(digits) > 10 or int(digits) > MAX_PARAMETER:  # no int() of a 5,000-digit text
        raise Problem(status, title, f"{field} must be between -{MAX_PARAMETER} and "
                      f"{MAX_PARAMETER}", field=field)
    return int(text)


def query_int(request: web.Request, name: str, default: int | None = None) -> int | None:
    """The integer query parameter ``name`` (``default`` when absent or empty), or a 400
    Problem naming it; ranges narrower than 0..10^9 are each endpoint's to check."""
    raw = request.query.get(name)
    return default if raw in (None, "") else whole_number(raw, name)
