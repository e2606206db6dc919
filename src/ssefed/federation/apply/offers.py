"""A received offer (or demand): a FEP-0837 Proposal of another node's organisation."""

from __future__ import annotations

from typing import Any

from ssefed.vocab import proposals


def read_offer(doc: dict[str, Any]) -> proposals.RemoteProposal:
    """The fields of the offer ``doc``, once its JSON Schema is met. Raise
    proposals.SchemaError (with the path at fault) or ParseError (both ValueError). Whose
    offer it is, is trust.owned_object's to say, before."""
    proposals.check_schema("offer", doc)
    return proposals.read_proposal(doc)
