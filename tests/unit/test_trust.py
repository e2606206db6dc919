"""trust.same_origin: its shortcut (a literal ``scheme://authority`` prefix) always agrees
with comparing the origins parsed in full."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssefed.federation import trust


def parsed_in_full(iri: object, of: object) -> bool:
    known = trust.origin(of)
    return known is not None and known == trust.origin(iri)


@pytest.mark.parametrize(("iri", "of", "same"), [
    ("https://a.example/notes/1", "https://a.example/users/x", True),
    ("https://a.example", "https://a.example/users/x", True),
    ("https://a.example?x", "https://a.example/users/x", True),
    ("https://a.example.evil/notes/1", "https://a.example/users/x", False),
    ("https://a.example:8443/notes/1", "https://a.example/users/x", False),
    ("https://a.example:443/notes/1", "https://a.example/users/x", True),
    ("HTTPS://A.EXAMPLE/notes/1", "https://a.example/users/x", True),
    ("http://a.example/notes/1", "https://a.example/users/x", False),
    ("https://user@a.example/notes/1", "https://a.example/users/x", True),
    ("https://a.example@b.example/notes/1", "https://a.example/users/x", False),
    ("https://a.example/users/x", "https://a.example@b.example/users/x", False),
    ("https://a.exam\tple/notes/1", "https://a.example/users/x", True),  # urlsplit drops tabs
    ("https://a.example/x", "https://a.exam\tple/users/x", True),
    ("ftp://a.example/x", "ftp://a.example/y", False),
    ("https://a.example/x", None, False),
    (None, "https://a.example/x", False),
    ("https://[::1/x", "https://a.example/x", False),
])
def test_same_origin(iri, of, same):
    assert trust.same_origin(iri, of) is same
    assert parsed_in_full(iri, of) is same


_hosts = st.sampled_from(["a.example", "A.example", "a.example.evil", "b.example", "a.exampl",
                          "u@a.example", "a.example@b.example", "a.example:443", "a.example:80",
                          "a.example:8443", "[::1]", "a.exam\tple", "a.example%2f"])
_rests = st.sampled_from(["", "/", "/users/x", "?q", "#k", ".evil/x", ":443/x", "@b.example/",
                          "\\@b.example/", "/x\ny"])
_iris = st.builds(lambda scheme, host, rest: f"{scheme}://{host}{rest}",
                  st.sampled_from(["https", "http", "HTTPS", "ftp"]), _hosts, _rests)


@given(_iris, _iris)
def test_the_shortcut_agrees_with_the_full_parse(iri, of):
    assert trust.same_origin(iri, of) is parsed_in_full(iri, of)


@pytest.mark.parametrize("owner, author, allowed", [
    ("https://a.example/users/alice", "https://a.example/users/alice", True),
    ("https://a.example/users/bob", "https://a.example/users/alice", False),  # same host
    (7, 7, True), (7, 8, False),  # offers: stored as an actor row
    (None, "https://a.example/users/alice", False),  # this node's own object
])
def test_a_stored_object_is_replaced_only_by_the_actor_it_is_stored_as(owner, author, allowed):
    if allowed:
        trust.check_stored_owner("object.attributedTo", owner, author)
    else:
        with pytest.raises(trust.Untrusted, match="object.attributedTo: .*another actor"):
            trust.check_stored_owner("object.attributedTo", owner, author)
