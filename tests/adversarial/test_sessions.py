"""Secrets and sessions of the editing pages (issue 18): the session key is a secret of
its own, sessions end on the server, sign-in is CSRF-protected, claim secrets stay out
of the logs, the data directory is private, and every HTML page forbids framing and
outside resources.

One node per backend for the module (started with an empty admin token: the worst case
of the old key derivation); one more, "made before this change", started twice."""

from __future__ import annotations

import hashlib
import hmac
import re
import stat
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests

from tests.conftest import BACKENDS, FreshDatabases
from tests.nodes import Node, NodeFactory

HTML = {"Accept": "text/html"}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sign_in_csrf(web: requests.Session, node: Node) -> str:
    """The hidden CSRF field of the sign-in form (its cookie stays in ``web``)."""
    page = web.get(f"{node.base_url}/edit", timeout=10)
    assert page.status_code == 200 and 'name="token"' in page.text
    field = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
    return field.group(1) if field else ""  # (test_sign_in_without_csrf_is_refused: there)


def signed_in(node: Node, token: str) -> requests.Session:
    web = requests.Session()
    r = web.post(f"{node.base_url}/edit/sign-in",
                 data={"token": token, "csrf": sign_in_csrf(web, node)}, timeout=10,
                 allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/edit", r.text[:500]
    assert web.cookies.get("ssefed_edit")
    return web


def session_csrf(web: requests.Session, node: Node) -> str:
    page = web.get(f"{node.base_url}/edit", timeout=10)
    assert "Profil / Profile" in page.text, page.text[:500]
    return re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text).group(1)


def new_token(node: Node) -> tuple[int, str]:
    """A new token of the module's organisation: its number, and the token."""
    made = node.cli("token", "create", "moulin")
    assert made.returncode == 0, made.stderr
    number = re.search(r"token (\d+) of", made.stdout).group(1)
    return int(number), made.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module", params=BACKENDS)
def node(request, tmp_path_factory) -> Iterator[Node]:
    dbs = FreshDatabases(request.param, tmp_path_factory.mktemp(f"sessions-{request.param}"))
    factory = NodeFactory(dbs.tmp_path, dbs)
    try:
        node = factory.create("s", extra_env={"SSEFED_ADMIN_TOKEN": ""})
        assert node.cli("org", "add", "--handle", "moulin", "--name", "Moulin").returncode == 0
        yield node.start()
    finally:
        factory.stop_all()
        dbs.drop_all()


@pytest.fixture(scope="module")
def legacy(node: Node, tmp_path_factory) -> Iterator[dict]:
    """A node as made before the session key existed (its key file removed) whose data
    directory others may read, started."""
    backend = "postgresql" if node.database_url.startswith("postgres") else "sqlite"
    dbs = FreshDatabases(backend, tmp_path_factory.mktemp(f"legacy-{backend}"))
    factory = NodeFactory(dbs.tmp_path, dbs)
    try:
        old = factory.create("old")
        data = old.directory / "data"
        key = (data / "session.key").read_bytes()
        (data / "session.key").unlink()
        data.chmod(0o755)
        old.start()
        yield {"node": old, "old_key": key, "data": data}
    finally:
        factory.stop_all()
        dbs.drop_all()


def test_session_cookie_forged_with_empty_admin_token_is_refused(node: Node):
    token_id, token = new_token(node)
    # the old derivation: SHA-256 of a label and the admin token, here empty
    key = hashlib.sha256(b"ssefed edit session\0" + b"").digest()
    body = f"{token_id}.{int(time.time()) + 3600}"
    forged = f"{body}.{hmac.new(key, body.encode(), hashlib.sha256).hexdigest()}"
    page = requests.get(f"{node.base_url}/edit", cookies={"ssefed_edit": forged}, timeout=10)
    assert 'name="token"' in page.text and "Profil / Profile" not in page.text
    # the key is a secret of its own, never empty, not derived from the admin token
    secret = (node.directory / "data" / "session.key").read_bytes().strip()
    assert len(secret) >= 32 and secret != key.hex().encode()
    # a genuine session's id, signed with guessable keys: refused; as issued: accepted
    web = signed_in(node, token)
    sid = web.cookies.get("ssefed_edit").split(".")[0]
    for guess in (b"", key, hashlib.sha256(b"").digest()):
        mac = hmac.new(guess, f"session\0{sid}".encode(), hashlib.sha256).hexdigest()
        page = requests.get(f"{node.base_url}/edit", timeout=10,
                            cookies={"ssefed_edit": f"{sid}.{mac}"})
        assert 'name="token"' in page.text and "Profil / Profile" not in page.text
    assert "Profil / Profile" in web.get(f"{node.base_url}/edit", timeout=10).text


def test_signed_out_cookie_no_longer_works(node: Node):
    web = signed_in(node, new_token(node)[1])
    csrf = session_csrf(web, node)
    copied = web.cookies.get("ssefed_edit")
    out = web.post(f"{node.base_url}/edit/sign-out", data={"csrf": csrf}, timeout=10,
                   allow_redirects=False)
    assert out.status_code == 303
    thief = requests.Session()
    thief.cookies.set("ssefed_edit", copied, path="/edit")
    page = thief.get(f"{node.base_url}/edit", timeout=10)
    assert 'name="token"' in page.text and "Profil / Profile" not in page.text
    post = thief.post(f"{node.base_url}/edit/reconfirm", data={"csrf": csrf}, timeout=10,
                      allow_redirects=False)
    assert post.status_code == 403


def test_revoked_token_ends_its_sessions(node: Node):
    token_id, token = new_token(node)
    web = signed_in(node, token)
    csrf = session_csrf(web, node)
    assert node.cli("token", "revoke", str(token_id)).returncode == 0
    assert 'name="token"' in web.get(f"{node.base_url}/edit", timeout=10).text
    assert web.post(f"{node.base_url}/edit/reconfirm", data={"csrf": csrf}, timeout=10,
                    allow_redirects=False).status_code == 403


def test_sign_in_without_csrf_is_refused(node: Node):
    token = new_token(node)[1]
    url = f"{node.base_url}/edit/sign-in"
    # a cross-site form: the token, but no pre-session cookie and no field
    bare = requests.post(url, data={"token": token}, timeout=10, allow_redirects=False)
    assert bare.status_code == 403 and "ssefed_edit=" not in bare.headers.get("Set-Cookie", "")
    # the field of another browser's form, without its cookie
    other = sign_in_csrf(requests.Session(), node)
    stolen = requests.post(url, data={"token": token, "csrf": other}, timeout=10,
                           allow_redirects=False)
    assert stolen.status_code == 403
    # its own cookie, a wrong field
    web = requests.Session()
    assert sign_in_csrf(web, node) and web.cookies.get("ssefed_signin")
    wrong = web.post(url, data={"token": token, "csrf": "0" * 64}, timeout=10,
                     allow_redirects=False)
    assert wrong.status_code == 403 and not web.cookies.get("ssefed_edit")
    assert signed_in(node, token)


def test_claim_secret_is_not_logged(node: Node):
    made = node.cli("org", "claim-link", "moulin")
    link = made.stdout.strip().splitlines()[-1]
    secret = link.rsplit("/", 1)[1]
    assert secret not in made.stderr
    web = requests.Session()
    assert web.get(link, timeout=10).status_code == 200
    claimed = web.post(link, data={}, timeout=10)
    assert claimed.status_code == 200
    assert "Profil / Profile" in web.get(f"{node.base_url}/edit", timeout=10).text
    assert web.get(link, timeout=10).status_code == 410  # used
    time.sleep(0.3)  # the access log line is written after the response
    log = node.log()
    assert "/claim/" in log  # the requests are logged ...
    assert secret not in log  # ... without their secret


def test_data_directory_is_private(node: Node):
    data = node.directory / "data"
    assert mode(data) == 0o700
    assert mode(data / "session.key") == 0o600
    assert mode(node.config) == 0o600
    if node.database_url.startswith("sqlite"):
        database = Path(node.database_url.removeprefix("sqlite:///"))
        assert mode(database) == 0o600
        for extra in (database.with_name(database.name + "-wal"),
                      database.with_name(database.name + "-shm")):
            if extra.exists():
                assert mode(extra) == 0o600
    assert "not private" not in node.log()


def test_serve_warns_when_data_directory_is_not_private(legacy: dict):
    log = legacy["node"].log()
    assert re.search(rf"{re.escape(str(legacy['data']))}.* mode 0?755", log), log[-3000:]


def test_node_without_session_key_makes_one_and_ends_sessions(legacy: dict):
    old, data = legacy["node"], legacy["data"]
    assert mode(data / "session.key") == 0o600
    key = (data / "session.key").read_bytes()
    assert len(key.strip()) >= 32 and key != legacy["old_key"]
    assert "existing editing sessions ended" in old.log()


PAGES = ["/", "/search", "/search?q=pain&lat=45.19&lon=5.72&radius_km=50", "/chains",
         "/chains?category=flour", "/gaps", "/edit", "/actors/network", "/claim/nope"]


def test_public_pages_forbid_framing_and_outside_resources(node: Node):
    for path in PAGES:
        r = requests.get(f"{node.base_url}{path}", headers=HTML, timeout=10)
        if path == "/claim/nope":  # a JSON problem: no page to frame, but never sniffed
            assert r.headers["Content-Type"].startswith("application/problem+json")
            assert r.headers.get("X-Content-Type-Options") == "nosniff", path
            continue
        assert r.headers.get("Content-Type", "").startswith("text/html"), path
        csp = r.headers.get("Content-Security-Policy", "")
        directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in csp.split(";") if d.strip())
        assert directives.get("default-src") == "'none'", (path, csp)
        assert directives.get("frame-ancestors") == "'none'", (path, csp)
        assert "'unsafe-inline'" not in csp and "http" not in csp, (path, csp)
        assert r.headers.get("X-Frame-Options") == "DENY", path
        assert r.headers.get("X-Content-Type-Options") == "nosniff", path
        if r.headers.get("Content-Type", "").startswith("text/html"):
            # what the policy allows is all the page needs: no inline style or script
            assert "<style" not in r.text and " style=" not in r.text, path
            assert "<script" not in r.text, path
    css = requests.get(f"{node.base_url}/static/ssefed.css", timeout=10)
    assert css.status_code == 200 and css.headers.get("X-Content-Type-Options") == "nosniff"
