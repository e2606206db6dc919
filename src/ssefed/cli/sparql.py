"""ssefed sparql QUERY | --file F [--json] [--format turtle|ntriples] | --rebuild"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ssefed.cli.common import CommandError
from ssefed.cli.common import command, config_from, on_database
from ssefed.graph.child import PREFIXES
from ssefed.graph.queries import QueryRefused, QueryStopped, check_query
from ssefed.graph.service import Sparql

MAX_CELL = 60


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "sparql", run, help="SPARQL query over the node's data, local and received",
                description="Runs a SPARQL 1.1 query (SELECT, ASK, CONSTRUCT, DESCRIBE) "
                "over the RDF projection of the node's organisations and offers, local "
                "and received, brought up to date first. SERVICE and FROM are refused.")
    p.add_argument("query", nargs="?", help="the query text")
    p.add_argument("--file", "-f", type=Path, help="read the query from this file")
    p.add_argument("--json", action="store_true",
                   help="SELECT/ASK: print SPARQL 1.1 JSON results instead of a table")
    p.add_argument("--format", choices=("turtle", "ntriples"), default="turtle",
                   help="CONSTRUCT/DESCRIBE: output format (default: turtle)")
    p.add_argument("--rebuild", action="store_true",
                   help="drop the projection and build it again from the database")


def short(term: dict) -> str:
    """A result term as people read it: prefixed names, plain literals."""
    value = str(term.get("value", ""))
    if term.get("type") == "uri":
        for prefix, ns in PREFIXES.items():
            if value.startswith(ns) and value[len(ns):] and "/" not in value[len(ns):]:
                return f"{prefix}:{value[len(ns):]}"
        return value
    if term.get("type") == "bnode":
        return f"_:{value}"
    value = " ".join(value.split())
    return value if len(value) <= MAX_CELL else value[:MAX_CELL - 1] + "…"


def table(results: dict) -> str:
    names = results["head"]["vars"]
    rows = [[short(b[n]) if n in b else "" for n in names]
            for b in results["results"]["bindings"]]
    widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.query is not None and args.file is not None:
        raise CommandError("give the query as an argument or with --file, not both", 2)
    text = args.query
    if args.file is not None:
        try:
            text = args.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"--file: cannot read {args.file}: {exc}", 2) from None
    if text is None and not args.rebuild:
        raise CommandError("give a query (ssefed sparql 'SELECT ...'), --file FILE, "
                           "or --rebuild", 2)
    config = config_from(args)
    if text is not None:
        try:  # before opening anything (in this process: it is the admin's own)
            check_query(text, config.sparql.max_query_bytes)
        except QueryRefused as exc:
            raise CommandError(f"query refused: {exc}", 2) from None

    async def query(db):
        sparql = Sparql(config, db)
        if args.rebuild:
            report = await sparql.rebuild()
            if report.skipped:
                raise CommandError("the projection is being written by another process "
                                   "(the node?); try again")
            print(f"rebuilt the projection: {report}", file=sys.stderr)
        if text is None:
            return None
        return await sparql.answer(text, graph_format=args.format)

    try:
        answer = on_database(config, query)
    except QueryRefused as exc:
        raise CommandError(f"query refused: {exc}", 2) from None
    except QueryStopped as exc:
        raise CommandError(str(exc), 1) from None
    if answer is None:
        return 0
    if answer.format != "json":
        sys.stdout.write(answer.body.decode("utf-8"))
    elif args.json:
        sys.stdout.write(answer.body.decode("utf-8") + "\n")
    else:
        results = json.loads(answer.body)
        if answer.form == "ASK":
            print("yes" if results["boolean"] else "no")
        else:
            print(table(results))
            print(f"{answer.count} result(s)")
    if answer.truncated:
        print(f"ssefed: only the first {answer.count} results are shown "
              "([sparql] max_results)", file=sys.stderr)
    return 0
