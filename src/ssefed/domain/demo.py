"""The demo network: fictional member organisations of a mountain region, with offers
and demands (data in ssefed/demo/, never fetched)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from ssefed.db.base import utcnow
from ssefed.db.repos import actors as actor_repo
from ssefed.db.repos import organisations as org_repo
from ssefed.db.session import Database
from ssefed.domain import offers as offer_domain
from ssefed.domain import organisations as org_domain
from ssefed.domain.errors import InvalidInput
from ssefed.paths import DEMO_DIR
from ssefed.vocab.ids import LocalIds

DEMO_FILE = DEMO_DIR / "hautes-vallees.json"


@dataclass
class DemoResult:
    organisations_created: int = 0
    organisations_existing: int = 0
    offers_created: int = 0


async def load_demo(db: Database, ids: LocalIds, domain: str, path: Path = DEMO_FILE,
                    progress=None) -> DemoResult:
    """Load the demo organisations and their offers; loading twice adds nothing.

    Each organisation is created with its offers in one transaction.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    orgs = data.get("organisations") or []
    result = DemoResult()
    summary = (data.get("network") or {}).get("summary")
    if isinstance(summary, str) and summary.strip():
        async with db.write() as s:
            network = await actor_repo.get_network(s)
            if network is not None and not network.summary:
                network.summary = summary.strip()
    valid_until = (utcnow() + timedelta(days=365)).date()
    for n, item in enumerate(orgs, 1):
        prefix = f"organisations[{n - 1}]."
        try:
            org = org_domain.parse_organisation(item)
            offers = [offer_domain.parse_offer(o, f"offers[{i}].")
                      for i, o in enumerate(item.get("offers") or [])]
        except InvalidInput as exc:
            raise InvalidInput(prefix + exc.field, exc.message) from None
        if org.validated:
            org.valid_until = valid_until
        for offer in offers:
            offer.valid_until = valid_until
        key = f"demo:{org.handle}"
        async with db.write() as s:
            if await org_repo.get_by_source_key(s, key) is not None:
                result.organisations_existing += 1
            else:
                actor = await org_domain.create(s, ids, domain, org, source="demo", source_key=key)
                for offer in offers:
                    await offer_domain.create(s, ids, actor, offer, lat=org.lat, lon=org.lon)
                result.organisations_created += 1
                result.offers_created += len(offers)
        if progress is not None:
            progress(n, len(orgs))
    return result
