"""`ssefed import` of a real directory (7,272 UK co-operatives, SSE standard CSV) and of
broken files: counts, mappings, idempotence, quietness, per-row errors."""

import csv
import gzip

from tests.conftest import COOPS_GZ

ESS = "http://purl.org/essglobal/standard/"


def test_real_directory_imports_every_cooperative_quietly_and_only_once(nodes, coops_csv):
    node = nodes.create("a")
    first = node.cli("import", str(coops_csv), timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    assert ("7272 row(s): 7272 organisation(s) created, 0 updated, 0 unchanged, 0 refused; "
            "6970 with a position") in first.stdout
    # an independent count over the CSV: rows with a postcode centroid
    with coops_csv.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 7272
    assert sum(1 for r in rows if r["Geo Container Latitude"]) == 6970
    assert node.sql("SELECT count(*) FROM organisations WHERE source = 'import'") == [(7272,)]
    assert node.sql("SELECT count(*) FROM organisations WHERE lat IS NOT NULL") == [(6970,)]
    group = node.sql(
        "SELECT a.name, o.legal_form, o.sectors, o.organisational_structure, "
        "o.membership_type, o.activities, o.claimed, o.contact_public, o.postal_code "
        "FROM organisations o JOIN actors a ON a.id = o.actor_id "
        "WHERE o.source_key = 'sse:R000001'")
    name, legal_form, sectors, structure, membership, activities, claimed, public, postcode = \
        group[0]
    assert name == "The Co-operative Group" and postcode == "M60 0AG"
    assert legal_form == "consumer-cooperative"  # Society owned by its consumers
    assert "47.11" in str(sectors)  # UK SIC 47110 -> NACE 47.11
    assert structure == f"{ESS}organisational-structure/OS130"
    assert membership == f"{ESS}base-membership-type/BMT10"
    assert f"{ESS}activities-ica/ICA260" in str(activities)
    assert not claimed and not public  # unclaimed, contacts private until claimed
    expected_workers = sum(1 for r in rows if r["Ownership Classification"] == "Workers"
                           and r["Legal Form"] not in ("Community Interest Company",
                                                       "Unincorporated",
                                                       "Scottish Charitable Incorporated "
                                                       "Organisation"))
    assert node.sql("SELECT count(*) FROM organisations WHERE legal_form = 'worker-cooperative'"
                    ) == [(expected_workers,)]
    # quiet: no activity, no delivery, no key generation queued
    assert node.sql("SELECT count(*) FROM activities") == [(0,)]
    assert node.sql("SELECT count(*) FROM deliveries") == [(0,)]
    assert node.sql("SELECT count(*) FROM jobs") == [(0,)]
    # a second import changes nothing
    second = node.cli("import", str(coops_csv), timeout=600)
    assert "0 organisation(s) created, 0 updated, 7272 unchanged, 0 refused" in second.stdout
    assert node.sql("SELECT count(*) FROM actors WHERE local") == [(7273,)]  # + the network
    assert node.sql("SELECT count(*) FROM activities") == [(0,)]
    # imported organisations are real actors, with keys made at their first fetch
    node.start()
    import requests

    handle = node.sql("SELECT a.handle FROM actors a JOIN organisations o ON o.actor_id = a.id "
                      "WHERE o.source_key = 'sse:R000001'")[0][0]
    doc = requests.get(f"{node.base_url}/actors/{handle}",
                       headers={"Accept": "application/activity+json"}, timeout=10).json()
    assert doc["name"] == "The Co-operative Group" and "publicKey" in doc
    assert doc["location"]["address"]["postalCode"] == "M60 0AG"
    assert "email" not in doc and "telephone" not in doc  # private until claimed


def test_broken_rows_are_reported_by_line_and_column_and_good_rows_imported(nodes, tmp_path):
    node = nodes.create("a")
    with gzip.open(COOPS_GZ, "rt", encoding="utf-8") as fh:
        header = fh.readline().rstrip("\r\n")
    good = ('G1,Bakery Co-op,"Bread,\nand cakes",,,,1 Main St,Leeds,,LS1 1AA,GB,,,,,,,,,,'
            ',,,53.79,-1.54,Retail,,10710,Workers,Society')
    bad_lat = 'G2,Bad Position,,,,,,,,,GB,,,,,,,,,,,,,north,-1.5,,,,,'
    no_name = 'G3,,,,,,,,,,GB,,,,,,,,,,,,,,,,,,,'
    bad_code = ('G4,Odd Code,,https://dev.lod.coop/essglobal/2.1/standard/'
                'organisational-structure/OS999,,,,,,,GB,,,,,,,,,,,,,,,,,,,')
    good2 = 'G5,Second Good,,,,,,,,,GB,,http://g5.example,,,,,,,,,,,,,,,,,'
    path = tmp_path / "broken.csv"
    path.write_text("\n".join([header, good, bad_lat, no_name, bad_code, good2]) + "\n",
                    encoding="utf-8")
    result = node.cli("import", str(path))
    assert result.returncode == 3  # partly imported
    assert "5 row(s): 2 organisation(s) created" in result.stdout and "3 refused" in result.stdout
    # line numbers count the multi-line field of the first row (lines 2-3)
    assert "line 4, column Geo Container Latitude: not a number: 'north'" in result.stdout
    assert "line 5, column Name: is required" in result.stdout
    assert "line 6, column Organisational Structure: unknown organisational-structure code" \
        in result.stdout
    names = sorted(r[0] for r in node.sql(
        "SELECT a.name FROM actors a JOIN organisations o ON o.actor_id = a.id"))
    assert names == ["Bakery Co-op", "Second Good"]  # no half organisation
    summary = node.sql("SELECT a.summary, o.legal_form, o.sectors FROM actors a JOIN "
                       "organisations o ON o.actor_id = a.id WHERE a.name = 'Bakery Co-op'")
    assert summary[0][0] == "Bread,\nand cakes" and summary[0][1] == "worker-cooperative"
    assert "10.71" in str(summary[0][2])


def test_ssefed_template_and_unknown_formats(nodes, tmp_path):
    node = nodes.create("a")
    template = tmp_path / "members.csv"
    template.write_text("handle,name,legal_form,sectors,lat,lon,locality\n"
                        "epicerie-du-bourg,Épicerie du Bourg,consumer-cooperative,47.11,"
                        "45.19,5.72,Grenoble\n"
                        "bad handle,Nope,,,,,\n", encoding="utf-8")
    result = node.cli("import", str(template))
    assert "1 organisation(s) created" in result.stdout
    assert "line 3, column handle:" in result.stdout
    other = tmp_path / "other.csv"
    other.write_text("foo,bar\n1,2\n", encoding="utf-8")
    refused = node.cli("import", str(other))
    assert refused.returncode == 2 and "invalid header" in refused.stderr
    assert "Traceback" not in refused.stderr
    # not UTF-8 (a spreadsheet's Latin-1), or not CSV: the file is refused, never a "bug"
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("handle,name\ncafe,Café\n".encode("latin-1"))
    huge = tmp_path / "huge.csv"
    huge.write_text('handle,name\ncafe,"' + "x" * 140_000 + '"\n', encoding="utf-8")
    for path, why in ((latin1, "not UTF-8"), (huge, "line 2: field larger than")):
        refused = node.cli("import", str(path))
        assert refused.returncode == 2 and f"invalid file: {why}" in refused.stderr, \
            refused.stderr


def test_export_turtle_jsonld_and_csv_that_reimports_as_it_is(nodes, tmp_path):
    import json

    import rdflib

    a = nodes.create("a")
    assert a.cli("demo").returncode == 0
    turtle = a.cli("export", "--format", "turtle")
    graph = rdflib.Graph().parse(data=turtle.stdout, format="turtle")
    proposal = rdflib.URIRef("https://w3id.org/valueflows/ont/vf#Proposal")
    assert len(set(graph.subjects(rdflib.RDF.type, proposal))) == 72
    one = json.loads(a.cli("export", "--format", "jsonld", "--handle",
                           "moulin-du-pont-rouge").stdout)
    assert one["@graph"][0]["preferredUsername"] == "moulin-du-pont-rouge"
    assert all(d["attributedTo"] == one["@graph"][0]["id"] for d in one["@graph"][1:])
    out = tmp_path / "members.csv"
    assert a.cli("export", "--format", "csv", "-o", str(out)).returncode == 0
    b = nodes.create("b")
    imported = b.cli("import", str(out))
    assert "30 organisation(s) created" in imported.stdout and "0 refused" in imported.stdout
    query = ("SELECT a.handle, a.name, o.legal_form, o.sectors, o.lat FROM actors a JOIN "
             "organisations o ON o.actor_id = a.id ORDER BY a.handle")
    assert [r[:3] + (str(r[3]), r[4]) for r in b.sql(query)] == \
        [r[:3] + (str(r[3]), r[4]) for r in a.sql(query)]


def test_offers_template_imports_offers_by_row_once_and_reports_bad_rows(nodes, tmp_path):
    node = nodes.create("a")
    members = tmp_path / "members.csv"
    members.write_text("handle,name,lat,lon\nmoulin,Moulin du Pont,45.2,5.7\n"
                       "fournil,Fournil Coop,,\n", encoding="utf-8")
    assert node.cli("import", str(members)).returncode == 0
    offers = tmp_path / "offers.csv"
    header = ("org,ref,direction,role,kind,category,inputs,title,summary,quantity,unit,price,"
              "currency,exchange,valid_until")
    rows = [
        "moulin,farine-t65,offer,transformation,product,flour,wheat,Farine T65,Bio,100,kg,"
        "2.40,EUR,sale,2027-06-30",
        "fournil,pain,offer,production,product,bread,flour;wheat,Pain au levain,,,,,,,",
        "fournil,bad-price,offer,production,product,bread,,Cher,,,,beaucoup,EUR,,",
        "moulin,bad-cat,offer,production,product,no-such-category,,Rien,,,,,,,",
        "nobody,x,offer,production,product,bread,,Orphelin,,,,,,,",
        "moulin,,offer,production,product,bread,,Sans ref,,,,,,,",
        "moulin,besoin-ble,demand,transformation,product,wheat,,Blé tendre,,5,t,,,,2027-01-31",
    ]
    offers.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    first = node.cli("import", str(offers))
    assert first.returncode == 3, first.stdout + first.stderr
    assert "7 row(s): 3 offer(s) created, 0 updated, 0 unchanged, 4 refused" in first.stdout
    assert "line 4, column price: must be a number" in first.stdout
    assert "line 5, column category:" in first.stdout
    assert "line 6, column org: no organisation 'nobody' on this node" in first.stdout
    assert "line 7, column ref: is required" in first.stdout
    got = node.sql("SELECT o.title, o.price, o.currency, o.lat, o.valid_until, o.direction "
                   "FROM offers o ORDER BY o.title")
    assert [(r[0], r[5]) for r in got] == [("Blé tendre", "demand"), ("Farine T65", "offer"),
                                           ("Pain au levain", "offer")]
    farine = next(r for r in got if r[0] == "Farine T65")
    assert float(farine[1]) == 2.40 and farine[2] == "EUR" and farine[3] == 45.2  # org's place
    inputs = node.sql("SELECT i.category FROM offer_inputs i JOIN offers o ON o.id = i.offer_id "
                      "WHERE o.title = 'Pain au levain' ORDER BY i.position")
    assert [r[0].rsplit("/", 1)[1] for r in inputs] == ["flour", "wheat"]
    # each new offer is in its organisation's outbox (a Create); nothing is sent, no Announce
    assert node.sql("SELECT type, count(*) FROM activities GROUP BY type") == [("Create", 3)]
    assert node.sql("SELECT count(*) FROM deliveries") == [(0,)]
    node.start()
    import requests

    outbox = requests.get(f"{node.base_url}/actors/moulin/outbox?page=true",
                          headers={"Accept": "application/activity+json"}, timeout=10).json()
    titles = {item["object"]["name"] for item in outbox["orderedItems"]}
    assert titles == {"Farine T65", "Blé tendre"}
    node.stop()
    # the same file again changes nothing; a changed row updates its offer (an Update)
    again = node.cli("import", str(offers))
    assert "3 unchanged" in again.stdout and "0 offer(s) created, 0 updated" in again.stdout
    offers.write_text("\n".join([header, rows[0].replace("2.40", "2.60")]) + "\n",
                      encoding="utf-8")
    changed = node.cli("import", str(offers))
    assert "1 row(s): 0 offer(s) created, 1 updated" in changed.stdout
    assert node.sql("SELECT count(*) FROM offers") == [(3,)]
    assert float(node.sql("SELECT price FROM offers WHERE title = 'Farine T65'")[0][0]) == 2.60
    assert node.sql("SELECT type, count(*) FROM activities GROUP BY type ORDER BY type") == \
        [("Create", 3), ("Update", 1)]
