"""ssefed search: the directory, local and federated, from the command line."""

from __future__ import annotations

import argparse
import json

from ssefed.cli.common import command, config_from, on_database
from ssefed.domain.search import FACETS, parse_search
from ssefed.domain.search_projection import SearchProjection


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "search", run, help="search organisations and offers (this node's and "
                                         "those received from followed actors)")
    p.add_argument("q", nargs="?", default="", help="words to look for (accents and case "
                                                    "do not matter)")
    for facet in FACETS:  # --type, --legal-form, --direction, --kind, --market…
        if facet.filtered:
            p.add_argument(f"--{facet.name.replace('_', '-')}", dest=facet.name,
                           choices=facet.choices or ("true", "false"))
    p.add_argument("--sector", action="append", help="NACE code; a parent matches its "
                                                     "children (repeat: all must match)")
    p.add_argument("--qualifier", action="append")
    p.add_argument("--category", action="append", help="category code or IRI (narrower "
                                                       "ones match too)")
    p.add_argument("--validated-only", dest="validated_only", action="store_true")
    p.add_argument("--fresh-only", dest="fresh_only", action="store_true")
    p.add_argument("--near", metavar="LAT,LON")
    p.add_argument("--radius-km", dest="radius_km", type=float)
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--cursor", help="the `next` of the previous page")
    p.add_argument("--json", action="store_true", help="the JSON answer of GET /api/search")


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    names = ["q", "sector", "qualifier", "category", "validated_only", "fresh_only", "near",
             "radius_km", "limit", "cursor"] + [f.name for f in FACETS if f.filtered]
    params = {k: getattr(args, k) for k in names if getattr(args, k) not in (None, False)}
    query = parse_search(params)

    # this process's own projection, loaded for the one query
    result = on_database(config, lambda db: SearchProjection(db, trust=config.chains).search(query))
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    for item in result["items"]:
        dist = f"{item['distance_km']:>8.1f} km  " if "distance_km" in item else ""
        flag = " [expired]" if item["expired"] else ""
        what = item.get("legal_form") or f"{item.get('direction')}/{item.get('kind')}"
        print(f"{dist}{item['name'][:50]:<50} {what or '':<28} {item['node']}{flag}")
    print(f"{result['total']} result(s)" + (f"; next page: --cursor {result['next']}"
                                           if result["next"] else ""))
    return 0
