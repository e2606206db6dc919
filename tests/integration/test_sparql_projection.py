"""The SPARQL projection on a real database (SQLite and PostgreSQL), without a node
process: what it holds is what the objects serve as Turtle, deletions remove it,
private data stays out, and queries are stopped at their limits."""

from __future__ import annotations

import json
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.compare import isomorphic

from ssefed.config import Config, NodeConfig, SparqlConfig, async_database_url
from ssefed.db import migrate
from ssefed.db.base import utcnow
from ssefed.db.models import Actor, ActorKey, Offer, Organisation
from ssefed.db.session import Database
from ssefed.domain import offers as offer_domain
from ssefed.domain import organisations as org_domain
from ssefed.graph.projection import Projection
from ssefed.graph.queries import QueryStopped
from ssefed.graph.service import Sparql
from ssefed.vocab import jsonld, to_as
from ssefed.vocab.ids import LocalIds
from sqlalchemy import select

BASE = "https://ess.example.org"
SEC = "https://w3id.org/security#"


@pytest.fixture
async def db(databases, tmp_path: Path):
    database = Database(async_database_url(databases.new_url(), tmp_path))
    await migrate.upgrade(database)
    async with database.write() as s:
        s.add(Actor(ap_id=f"{BASE}/actors/network", local=True, is_network=True,
                    domain="ess.example.org", handle="network", type="Group", name="Réseau"))
    yield database
    await database.dispose()


def config(tmp_path: Path, db: Database, **sparql) -> Config:
    return Config(node=NodeConfig(base_url=BASE, data_dir=str(tmp_path / "data")),
                  sparql=SparqlConfig(**sparql), path=tmp_path / "ssefed.toml")


async def add_org(db: Database, handle: str, **fields) -> Actor:
    data = org_domain.OrganisationInput(handle=handle, name=fields.pop("name", handle.title()),
                                        **fields)
    async with db.write() as s:
        return await org_domain.create(s, LocalIds(BASE), "ess.example.org", data,
                                       make_keys=False)


async def add_offer(db: Database, actor: Actor, category: str, **fields) -> Offer:
    data = offer_domain.OfferInput(direction="offer", kind="product", role="production",
                                   category=f"https://w3id.org/ssefed/category/{category}",
                                   title=fields.pop("title", f"Du {category}"), **fields)
    async with db.write() as s:
        return await offer_domain.create(s, LocalIds(BASE), actor, data)


def graph_of(projection: Projection, iri: str) -> rdflib.Graph:
    """The triples the projection holds for one object, read back from the store."""
    store = ox.Store.read_only(str(projection.store_path))
    data = ox.serialize([q.triple for q in store.quads_for_pattern(None, None, None,
                                                                  ox.NamedNode(iri))],
                        format=ox.RdfFormat.N_TRIPLES)
    del store
    return rdflib.Graph().parse(data=data.decode(), format="nt")


def without_keys(graph: rdflib.Graph) -> rdflib.Graph:
    """The actor's graph less its key nodes (RSA publicKey, Ed25519 Multikey)."""
    keys = set(graph.objects(None, rdflib.URIRef(SEC + "publicKey")))
    keys |= set(graph.subjects(rdflib.RDF.type, rdflib.URIRef(SEC + "Multikey")))
    out = rdflib.Graph()
    for s, p, o in graph:
        if s not in keys and o not in keys:
            out.add((s, p, o))
    return out


async def test_an_organisation_and_its_offer_are_projected_as_their_served_turtle(db, tmp_path):
    actor = await add_org(db, "ferme", name="Ferme des Combes", summary="Céréales\n\nbio",
                          legal_form="cooperative", sectors=["01.11"], qualifiers=["organic"],
                          lat=45.1, lon=5.7, address="1 route des Combes", locality="Vif",
                          postal_code="38450", country="FR", website="https://ferme.example",
                          email="contact@ferme.example", valid_until=date(2027, 6, 30))
    offer = await add_offer(db, actor, "wheat", title="Blé tendre", summary="Récolte 2026",
                            quantity=Decimal("12.5"), unit="t", price=Decimal("280"),
                            currency="EUR", inputs=["https://w3id.org/ssefed/category/seeds"],
                            valid_until=date(2027, 1, 1))
    projection = Projection.for_config(config(tmp_path, db))
    report = await projection.sync(db)
    assert report.projected == 3 and report.failed == 0  # network, organisation, offer

    # what GET /actors/ferme serves with Accept: text/turtle (the same documents, keys
    # included: the projection leaves key material out)
    async with db.write() as s:
        s.add(ActorKey(actor_id=actor.id, kind="rsa", key_id=f"{actor.ap_id}#main-key",
                       public_pem="-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----"))
    async with db.read() as s:
        row = await s.get(Actor, actor.id)
        org = await s.get(Organisation, actor.id)
        keys = list(await s.scalars(select(ActorKey).where(ActorKey.actor_id == actor.id)))
        stored_offer = await s.scalar(select(Offer).where(Offer.id == offer.id))
    served = jsonld.to_rdf_graph(to_as.actor_document(row, keys, BASE, org,
                                                      f"{BASE}/actors/network"))
    assert len(without_keys(served)) < len(served)
    assert isomorphic(graph_of(projection, actor.ap_id), without_keys(served))
    served_offer = jsonld.to_rdf_graph(to_as.offer_object(stored_offer, row))
    assert isomorphic(graph_of(projection, offer.ap_id), served_offer)


async def test_deleted_offers_and_organisations_leave_the_projection(db, tmp_path):
    ferme = await add_org(db, "ferme")
    moulin = await add_org(db, "moulin")
    wheat = await add_offer(db, ferme, "wheat")
    flour = await add_offer(db, moulin, "flour")
    projection = Projection.for_config(config(tmp_path, db))
    await projection.sync(db)
    assert len(graph_of(projection, wheat.ap_id)) > 0
    async with db.write() as s:
        (await s.get(Offer, wheat.id)).deleted_at = utcnow()
    report = await projection.sync(db)
    assert report.removed == 1 and report.projected == 0
    assert len(graph_of(projection, wheat.ap_id)) == 0
    assert len(graph_of(projection, flour.ap_id)) > 0
    # a removed organisation takes its offers with it
    async with db.write() as s:
        (await s.get(Actor, moulin.id)).deleted_at = utcnow()
    await projection.sync(db)
    assert len(graph_of(projection, moulin.ap_id)) == 0
    assert len(graph_of(projection, flour.ap_id)) == 0
    assert len(graph_of(projection, ferme.ap_id)) > 0
    # nothing changed: nothing done
    assert (await projection.sync(db)).projected == 0
    # a rebuild gives the same content
    await projection.rebuild(db)
    assert len(graph_of(projection, flour.ap_id)) == 0 and len(graph_of(projection,
                                                                       ferme.ap_id)) > 0


async def test_a_change_of_the_organisation_alone_reaches_the_projection(db, tmp_path):
    ferme = await add_org(db, "ferme", lat=45.0, lon=5.0)
    projection = Projection.for_config(config(tmp_path, db))
    await projection.sync(db)
    async with db.write() as s:
        (await s.get(Organisation, ferme.id)).locality = "Vif"
    assert (await projection.sync(db)).projected == 1
    assert rdflib.Literal("Vif") in set(graph_of(projection, ferme.ap_id).objects())


async def test_private_contacts_stay_out_of_the_projection(db, tmp_path):
    hidden = await add_org(db, "importee", email="secret@importee.example", phone="+33 4 00")
    await add_org(db, "publique", email="bonjour@publique.example")
    async with db.write() as s:
        (await s.get(Organisation, hidden.id)).contact_public = False
    sparql = Sparql(config(tmp_path, db), db)
    answer = await sparql.answer("SELECT ?o ?v WHERE { ?o schema:email|schema:telephone ?v }")
    values = answer.body.decode()
    assert "bonjour@publique.example" in values
    assert "secret@importee.example" not in values and "+33 4 00" not in values
    # nor tokens, keys or activities: only these predicates' namespaces exist
    answer = await sparql.answer("SELECT DISTINCT ?p WHERE { ?s ?p ?o }")
    assert SEC not in answer.body.decode() and "token" not in answer.body.decode().lower()
    answer = await sparql.answer(f"ASK {{ <{hidden.ap_id}> a as:Organization }}")
    assert json.loads(answer.body) == {"head": {}, "boolean": True}  # the organisation is there


async def test_offers_are_found_by_category_and_results_are_bounded(db, tmp_path):
    ferme = await add_org(db, "ferme")
    offers = [await add_offer(db, ferme, "wheat", title=f"Lot {i}") for i in range(5)]
    await add_offer(db, ferme, "flour")
    sparql = Sparql(config(tmp_path, db, max_results=3), db)
    answer = await sparql.answer(
        "SELECT ?offer WHERE { ?offer vf:publishes/vf:resourceConformsTo cat:wheat }")
    assert answer.count == 3 and answer.truncated
    everything = Sparql(config(tmp_path, db), db)
    answer = await everything.answer(
        "SELECT ?offer WHERE { ?offer vf:publishes/vf:resourceConformsTo cat:wheat }")
    assert answer.count == 5 and not answer.truncated
    assert all(o.ap_id in answer.body.decode() for o in offers)


async def test_a_pathological_query_is_stopped_at_the_time_limit(db, tmp_path):
    ferme = await add_org(db, "ferme")
    for i in range(10):
        await add_offer(db, ferme, "wheat", title=f"Lot {i}")
    sparql = Sparql(config(tmp_path, db, timeout_seconds=1.0), db)
    started = time.monotonic()
    with pytest.raises(QueryStopped) as stopped:  # ~300 triples: 300^5 solutions to count
        await sparql.answer("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . "
                            "?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o }")
    assert stopped.value.reason == "timeout"
    assert time.monotonic() - started < 8
    # the node goes on answering
    assert (await sparql.answer("ASK { ?s ?p ?o }")).count == 1


async def test_a_query_growing_past_the_memory_limit_is_stopped(db, tmp_path):
    ferme = await add_org(db, "ferme")
    for i in range(10):
        await add_offer(db, ferme, "wheat", title=f"Lot {i}")
    sparql = Sparql(config(tmp_path, db, max_memory_mb=64, timeout_seconds=30.0), db)
    with pytest.raises(QueryStopped) as stopped:  # ORDER BY holds every solution
        await sparql.answer("SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } "
                            "ORDER BY ?c ?f ?i LIMIT 1")
    assert stopped.value.reason == "memory"


async def test_the_whole_demo_network_is_projected_as_pyld_reads_its_documents(db, tmp_path):
    from ssefed.db.repos import projection as repo
    from ssefed.domain.demo import load_demo

    result = await load_demo(db, LocalIds(BASE), "ess.example.org")
    projection = Projection.for_config(config(tmp_path, db))
    report = await projection.sync(db)
    assert report.failed == 0
    assert report.projected == 1 + result.organisations_created + result.offers_created > 90
    async with db.read() as s:
        network = await repo.network_iri(s)
        actors = await repo.actors(s, list(await s.scalars(select(Actor.id))))
        offers = await repo.offers(s, list(await s.scalars(select(Offer.id))))
    docs = [(a.ap_id, to_as.actor_document(a, [], BASE, o, network if o else None))
            for a, o in actors]
    docs += [(o.ap_id, to_as.offer_object(o, a)) for o, a in offers]
    store = ox.Store.read_only(str(projection.store_path))
    try:
        for iri, doc in docs:  # pyld, as GET {iri} with Accept: text/turtle serves it
            data = ox.serialize([q.triple for q in store.quads_for_pattern(
                None, None, None, ox.NamedNode(iri))], format=ox.RdfFormat.N_TRIPLES)
            held = rdflib.Graph().parse(data=data.decode(), format="nt")
            assert isomorphic(held, jsonld.to_rdf_graph(doc)), iri
    finally:
        del store
