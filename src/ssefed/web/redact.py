"""Request paths as they may be logged: a claim link's path is its one-time secret
(``ssefed org claim-link``), which must never reach a log."""

from __future__ import annotations

from aiohttp import web

SECRET_PREFIXES = ("/claim/",)


def loggable_path(request: web.BaseRequest) -> str:
    """``request``'s path and query, the secret of a claim path (and its query) left out.
    The decoded path decides, so an encoded spelling of the prefix is redacted too."""
    for prefix in SECRET_PREFIXES:
        if request.path.startswith(prefix) or request.raw_path.startswith(prefix):
            return prefix + "[secret]"
    return request.path_qs
