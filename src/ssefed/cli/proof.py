"""ssefed proof sign|verify: object integrity proofs (FEP-8b32, eddsa-jcs-2022) on JSON
documents passed between networks by hand or relayed by another node (an endorsement,
a statement about a member)."""

from __future__ import annotations

import argparse
import json
import sys

from ssefed.cli.common import CommandError
from ssefed.cli.common import command, config_from, on_federation, on_local_actor, verbs
from ssefed.federation import proofs
from ssefed.vocab import strictjson
from ssefed.vocab.ids import LocalIds


def register(sub: argparse._SubParsersAction) -> None:
    proof = verbs(sub, "proof", help="sign a JSON document as a local actor, or check the "
                                     "integrity proof of one")
    s = command(proof, "sign", run_sign, "file", help="print FILE (JSON; '-': standard input) "
                                                      "with an integrity proof by a local "
                                                      "actor's Ed25519 key")
    s.add_argument("--as", dest="handle", required=True,
                   help="the local actor who signs; the document's actor or attributedTo "
                        "must be it")
    v = command(proof, "verify", run_verify, "file",
                help="check FILE's integrity proof against its author's own actor document, "
                     "fetched from the author's server")
    v.add_argument("--actor", metavar="IRI", help="the actor the document must be by")


def _read(path: str, max_bytes: int, max_depth: int) -> dict:
    try:
        if path == "-":
            raw = sys.stdin.buffer.read(max_bytes + 1)
        else:
            with open(path, "rb") as fh:
                raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise CommandError(f"{path} is larger than {max_bytes} bytes (max_body_bytes)")
    try:
        doc = strictjson.loads(raw, max_depth=max_depth)
    except strictjson.JSONRefused as exc:  # its detail names the field
        raise CommandError(f"{path}: {exc.detail}") from None
    if not isinstance(doc, dict):
        raise CommandError(f"{path} is not a JSON object")
    return doc


def run_sign(args: argparse.Namespace) -> int:
    config = config_from(args)
    fed_cfg = config.federation
    doc = _read(args.file, fed_cfg.max_body_bytes, fed_cfg.max_json_depth)

    async def sign(db, actor) -> dict:
        author = proofs.author_of(doc)
        if isinstance(author, proofs.ProofCheck):
            raise CommandError(f"the document names two authors: {author.detail}")
        if author is None:
            raise CommandError(f"the document names no author: add \"attributedTo\": "
                               f"\"{actor.ap_id}\" (or \"actor\" for an activity)")
        if author != actor.ap_id:
            raise CommandError(f"the document is by {author}, not by @{args.handle} "
                               f"({actor.ap_id})")
        if "proof" in doc:
            raise CommandError("the document already carries a proof")
        try:
            return await proofs.sign_as(db, LocalIds(config.node.base_url), actor, doc)
        except ValueError as exc:
            raise CommandError(str(exc)) from None

    print(json.dumps(on_local_actor(config, args.handle, sign), ensure_ascii=False, indent=2))
    return 0


def run_verify(args: argparse.Namespace) -> int:
    config = config_from(args)
    doc = _read(args.file, config.federation.max_body_bytes, config.federation.max_json_depth)

    check = on_federation(config, lambda fed: proofs.verify_relayed(fed, doc,
                                                                    claimed_actor=args.actor))
    if not check.ok:
        raise CommandError(f"not verified: {check}")
    print(f"verified: by {check.actor} with the key {check.verification_method}"
          + (f", created {check.created}" if check.created else ""))
    return 0
