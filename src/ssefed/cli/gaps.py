"""ssefed gaps / ssefed match: what a territory lacks, and who answers a need."""

from __future__ import annotations

import argparse
import json

from ssefed.cli.common import command, config_from, on_database
from ssefed.domain.matching import gaps, matches
from ssefed.domain.search import parse_search
from ssefed.domain.search_projection import SearchProjection


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "gaps", run_gaps, help="for a territory: demand without offer, inputs "
                                            "without supplier, filières without member")
    p.add_argument("--near", required=True, metavar="LAT,LON")
    p.add_argument("--radius-km", dest="radius_km", type=float, required=True)
    p.add_argument("--lang", choices=("fr", "en"), default="fr")
    p.add_argument("--json", action="store_true")
    m = command(sub, "match", run_match, help="offers that answer a demand (or an "
                                              "organisation's inputs), demands an offer answers")
    m.add_argument("iri", help="IRI of a demand, an offer or an organisation")
    m.add_argument("--limit", type=int, default=10)
    m.add_argument("--radius-km", dest="radius_km", type=float)
    m.add_argument("--json", action="store_true")


def run_gaps(args: argparse.Namespace) -> int:
    config = config_from(args)
    f = parse_search({"near": args.near, "radius_km": args.radius_km}).filters

    result = on_database(config, lambda db: gaps(SearchProjection(db, trust=config.chains),
                                                 near=f["near"], radius_km=f["radius_km"]))
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(f"{result['offers']} offer(s) and {result['demands']} demand(s) within "
          f"{result['radius_km']:g} km")
    for title, key, count in (("demand without offer", "demand_without_offer", "demands"),
                              ("inputs without supplier", "inputs_without_supplier",
                               "consumers"),
                              ("filières without member", "filieres_without_member", None)):
        items = result[key]
        print(f"{title}: {len(items)}")
        for item in items:
            print(f"  {item['label'][args.lang]:<30}" + (f" {item[count]}" if count else ""))
    return 0


def run_match(args: argparse.Namespace) -> int:
    config = config_from(args)

    result = on_database(config, lambda db: matches(SearchProjection(db, trust=config.chains),
                                                    args.iri, limit=args.limit,
                                                    radius_km=args.radius_km))
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    for m in result["matches"]:
        dist = f"{m['distance_km']:>7.1f} km " if m["distance_km"] is not None else " " * 11
        print(f"{dist}{m['name'][:50]:<50} {m['node']}{'' if m['validated'] else ' (not validated)'}"
              f"  {m['id']}")
    print(f"{len(result['matches'])} match(es)")
    return 0
