"""ssefed export: the node's own organisations and offers as Turtle, JSON-LD or CSV."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from pathlib import Path

from sqlalchemy import select

from ssefed.cli.common import command, config_from, database, local_actor
from ssefed.db.models import Actor, Offer, Organisation
from ssefed.db.repos import actors as actor_repo
from ssefed.vocab import to_as
from ssefed.vocab import jsonld

CSV_COLUMNS = ("handle", "name", "summary", "legal_form", "sectors", "qualifiers", "lat",
               "lon", "address", "postal_code", "locality", "country", "website", "email",
               "phone")


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "export", run, help="export organisations and offers (turtle, jsonld, csv)")
    p.add_argument("--format", choices=("turtle", "jsonld", "csv"), default="turtle")
    p.add_argument("--handle", help="only this organisation")
    p.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")


async def _documents(config, handle: str | None) -> tuple[list[dict], list[tuple]]:
    """ActivityPub documents (actors, then offers) and CSV rows of the node's members."""
    async with database(config) as db:
        only = await local_actor(db, handle) if handle else None
        async with db.read() as s:
            network = await actor_repo.get_network(s)
            q = (select(Actor, Organisation).join(Organisation)
                 .where(Actor.local.is_(True), Actor.deleted_at.is_(None)).order_by(Actor.id))
            if only is not None:
                q = q.where(Actor.id == only.id)
            members = list(await s.execute(q))
            offers = list(await s.execute(
                select(Offer, Actor).join(Actor)
                .where(Offer.local.is_(True), Offer.deleted_at.is_(None),
                       Actor.id.in_([a.id for a, _ in members])).order_by(Offer.id)))
    base = config.node.base_url
    network_iri = network.ap_id if network else None
    docs = [to_as.actor_document(a, [], base, o, network_iri) for a, o in members]
    docs += [to_as.offer_object(offer, actor) for offer, actor in offers]
    rows = [(a.handle, a.name, a.summary, o.legal_form or "", ";".join(o.sectors),
             ";".join(o.qualifiers), "" if o.lat is None else o.lat,
             "" if o.lon is None else o.lon, o.address, o.postal_code, o.locality, o.country,
             o.website or "", o.email if o.contact_public and o.email else "",
             o.phone if o.contact_public and o.phone else "") for a, o in members]
    return docs, rows


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    docs, rows = asyncio.run(_documents(config, args.handle))
    out = args.output.open("w", encoding="utf-8", newline="") if args.output else sys.stdout
    try:
        if args.format == "csv":  # ssefed's import template: exports re-import as they are
            writer = csv.writer(out)
            writer.writerow(CSV_COLUMNS)
            writer.writerows(rows)
        elif args.format == "jsonld":
            json.dump({"@context": to_as.AS_CONTEXT, "@graph": docs}, out, ensure_ascii=False,
                      indent=1)
            out.write("\n")
        else:
            import rdflib

            graph = rdflib.Graph()
            for prefix, ns in (("as", "https://www.w3.org/ns/activitystreams#"),
                               ("ssefed", "https://w3id.org/ssefed/ns#"),
                               ("vf", "https://w3id.org/valueflows/ont/vf#"),
                               ("schema", "https://schema.org/")):
                graph.bind(prefix, ns)
            for doc in docs:
                graph += jsonld.to_rdf_graph(doc)
            out.write(graph.serialize(format="turtle"))
    finally:
        if args.output:
            out.close()
    if args.output:
        print(f"exported {len(rows)} organisation(s) and {len(docs) - len(rows)} offer(s) "
              f"to {args.output}", file=sys.stderr)
    return 0


