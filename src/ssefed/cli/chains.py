"""ssefed chains: solidarity supply chains for a category, across the federation."""

from __future__ import annotations

import argparse
import json

from ssefed.cli.common import command, config_from, on_federation
from ssefed.domain import categories
from ssefed.domain.chains import parse_query
from ssefed.federation.chainsearch import ChainService


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "chains", run, help="supply chains for a category, with the guarantee of "
                                         "every link (this node's data, then its peers')")
    p.add_argument("--category", required=True, help="category code (e.g. bread) or IRI")
    p.add_argument("--near", metavar="LAT,LON", help="place the chain should be near")
    p.add_argument("--radius-km", dest="radius_km", type=float,
                   help="every link within this distance of --near")
    p.add_argument("--max-hops", dest="max_hops", type=int, help="most links in a chain")
    p.add_argument("--guaranteed-only", dest="guaranteed_only", action="store_true",
                   help="only chains whose every link is guaranteed")
    p.add_argument("--limit", type=int, help="most chains shown (default 10)")
    p.add_argument("--local", action="store_true", help="this node's data only (no fan-out)")
    p.add_argument("--json", action="store_true", help="the JSON answer of GET /api/chains")


def _table(result: dict) -> str:
    lines: list[str] = []
    if not result["chains"]:
        lines.append(f"no chain found for {categories.to_code(result['category'])}")
    for i, chain in enumerate(result["chains"], start=1):
        links = chain["links"]
        lines.append(f"chain {i}: {'GUARANTEED' if chain['guaranteed'] else 'not guaranteed'}"
                     f", {len(links)} link(s), {chain['total_distance_km']} km")
        for link in reversed(links):  # field to plate
            inputs = ", ".join(categories.to_code(c) for c in link["inputs"]) or "-"
            dist = f"{link['distance_km']} km" if link["distance_km"] is not None else "-"
            g = link["guarantee"]
            mark = "ok" if link["guaranteed"] else "--" if link.get("verified", True) else "??"
            supplies = f"-> {link['supplies']}" if link["supplies"] else "(final)"
            lines.append(f"  {link['position']:>2} {supplies:<8} {link['role']:<14} "
                         f"{categories.to_code(link['output']):<12} from {inputs:<16} "
                         f"{link['actor_name'][:32]:<32} {link['node']:<22} {dist:>9}  "
                         f"[{mark}] {g.get('reason', '')}")
            for alt in link.get("alternatives") or []:
                lines.append(f"{'':>14}or: {alt['actor_name'][:40]} ({alt['node']}) "
                             f"{alt['offer']}")
    for src in result["sources"]:
        lines.append(f"peer {src['node']}: {src['status']} in {src['ms']} ms"
                     + (f" ({src['detail']})" if src.get("detail") else ""))
    if result["partial"]:
        lines.append("partial answer: some peers did not answer in time, or the search was cut")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    params = {k: getattr(args, k) for k in ("category", "near", "radius_km", "max_hops",
                                            "limit") if getattr(args, k) is not None}
    params["guaranteed_only"] = args.guaranteed_only
    query = parse_query(params, max_hops_cap=config.chains.max_hops)

    result = on_federation(config, lambda fed: ChainService(fed).query(query,
                                                                       fan_out=not args.local))
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else _table(result))
    return 0
