"""The only place local IRIs are minted."""

from __future__ import annotations

import uuid
from urllib.parse import quote


class LocalIds:
    """Builds this node's IRIs from its ``base_url``."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")

    def actor(self, handle: str) -> str:
        return f"{self.base}/actors/{quote(handle, safe='')}"

    def key(self, actor_iri: str, kind: str) -> str:
        return f"{actor_iri}#{'main-key' if kind == 'rsa' else 'ed25519-key'}"

    def new_offer(self) -> str:
        return f"{self.base}/offers/{uuid.uuid4()}"

    def is_local(self, iri: str) -> bool:
        return iri == self.base or iri.startswith(self.base + "/")

    def charter(self, slug: str, version: int | None = None) -> str:
        """A charter (its newest version), or one version of it (immutable)."""
        iri = f"{self.base}/charters/{quote(slug, safe='')}"
        return iri if version is None else f"{iri}/v{version}"

    def new_application(self) -> str:
        return f"{self.base}/applications/{uuid.uuid4()}"

    def new_endorsement(self) -> str:
        return f"{self.base}/endorsements/{uuid.uuid4()}"

    def new_decision(self) -> str:
        return f"{self.base}/decisions/{uuid.uuid4()}"
