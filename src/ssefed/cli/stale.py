"""ssefed stale: what expires soon and what has expired (validations, offers, demands)."""

from __future__ import annotations

import argparse
import json

from ssefed.cli.common import CommandError
from ssefed.cli.common import command, config_from, on_database
from ssefed.domain.reminders import stale_items
from ssefed.domain.reminders import today_utc

MAX_ROWS = 10_000


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "stale", run, help="validations, offers and demands of this node's "
                                        "organisations that expire within N days, or have "
                                        "expired")
    p.add_argument("--days", type=int, help="how far ahead (default: [freshness] "
                                            "remind_days_before, 30)")
    p.add_argument("--json", action="store_true", help="JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    days = config.freshness.remind_days_before if args.days is None else args.days
    if not 0 <= days <= 3650:
        raise CommandError("--days must be between 0 and 3650", 2)
    today = today_utc()

    items, cut = on_database(config, lambda db: stale_items(db, days, today))
    if args.json:
        print(json.dumps({"today": today.isoformat(), "days": days, "items": items,
                          "truncated": cut}, ensure_ascii=False, indent=2))
        return 0
    expired = sum(i["state"] == "expired" for i in items)
    if items:
        print(f"{'STATE':<9} {'DATE':<10}  {'WHAT':<10} {'HANDLE':<24} TITLE")
        for i in items:
            print(f"{i['state']:<9} {i['valid_until']:<10}  {i['type']:<10} "
                  f"@{(i['handle'] or '')[:23]:<23} {i['title'][:60]}")
    print(f"{expired} expired, {len(items) - expired} expiring within {days} day(s)"
          + (f" (cut at {MAX_ROWS})" if cut else ""))
    return 0
