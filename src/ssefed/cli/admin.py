"""ssefed block|unblock|blocks|deliveries|inbox: the admin's view of federation."""

from __future__ import annotations

import argparse

from ssefed.cli.common import command, config_from, in_session
from ssefed.db.base import utcnow
from ssefed.db.repos import activities as activity_repo
from ssefed.db.repos import hosts as host_repo
from ssefed.db.repos import inbox as inbox_repo


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "block", run_block, "domain", blocked=True,
                help="refuse all traffic with a domain (and its subdomains)")
    p.add_argument("--reason", default="")
    command(sub, "unblock", run_block, "domain", blocked=False, reason="",
            help="lift a domain block")
    command(sub, "blocks", run_blocks, help="list blocked domains")
    command(sub, "deliveries", run_deliveries, help="the delivery queue, per host")
    p = command(sub, "inbox", run_inbox, help="received activities (default: the last ones)")
    p.add_argument("--rejected", action="store_const", const="rejected", dest="state",
                   default="processed")
    p.add_argument("--pending", action="store_const", const="pending", dest="state")
    p.add_argument("--ignored", action="store_const", const="ignored", dest="state")


def run_block(args: argparse.Namespace) -> int:
    domain = args.domain.strip().lower().removeprefix("https://").removeprefix("http://").strip("/")

    async def block(s) -> None:
        row = await host_repo.get_or_add(s, domain)
        row.blocked = args.blocked
        row.block_reason = args.reason or None

    in_session(config_from(args), block, write=True)
    print(f"{'blocked' if args.blocked else 'unblocked'} {domain}")
    return 0


def run_blocks(args: argparse.Namespace) -> int:
    domains = sorted(in_session(config_from(args), host_repo.blocked_domains))
    for d in domains:
        print(d)
    print(f"{len(domains)} blocked domain(s)")
    return 0


def run_deliveries(args: argparse.Namespace) -> int:
    rows = in_session(config_from(args), activity_repo.summary)
    now = utcnow()
    print(f"{'host':40} {'state':10} {'count':>7}  next try")
    for host, state, count, next_at in rows:
        label = state
        when = ""
        if state == "pending" and next_at is not None and next_at > now:
            label, when = "retrying", f"in {int((next_at - now).total_seconds())} s"
        elif state == "dead":
            label = "failed"
        print(f"{host:40} {label:10} {count:>7}  {when}")
    if not rows:
        print("the delivery queue is empty")
    return 0


def run_inbox(args: argparse.Namespace) -> int:
    items = in_session(config_from(args), lambda s: inbox_repo.list_by_state(s, args.state))
    for item in items:
        print(f"{item.received_at:%Y-%m-%d %H:%M:%S}\t{item.type}\t{item.ap_id}\t"
              f"{item.actor_ap_id}\t{item.error or ''}")
    print(f"{len(items)} {args.state} activit{'y' if len(items) == 1 else 'ies'}")
    return 0
