"""The node's data directory: private (700, files 600), and the secret kept in it.

``session.key`` is the key of the editing pages' session cookies and CSRF fields: random,
made by ``ssefed init`` (or by ``serve`` on a node made before it existed), never derived
from anything else. Deleting it (then restarting) ends every editing session."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

SESSION_KEY_FILE = "session.key"
MIN_KEY_CHARS = 32


class KeyFileError(RuntimeError):
    pass


def make_private_dir(path: Path) -> None:
    """Create ``path`` (mode 700) when missing; an existing directory is left as it is."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir(mode=0o700)
    path.chmod(0o700)  # mkdir's mode passes through the umask


def session_key(data_path: Path) -> tuple[bytes, bool]:
    """The session key, and whether it was made now (it did not exist)."""
    path = data_path / SESSION_KEY_FILE
    made = False
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        made = True
    key = path.read_bytes().strip()
    if len(key) < MIN_KEY_CHARS:
        raise KeyFileError(f"{path} holds fewer than {MIN_KEY_CHARS} characters: delete it "
                           "and start the node again to make a new one")
    return key, made


def loose_modes(paths: list[Path]) -> list[tuple[Path, int]]:
    """The paths among ``paths`` that exist and that others than their owner may read
    (or enter, or write), with their mode."""
    out = []
    for path in paths:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            out.append((path, mode))
    return out


def sqlite_files(database_url: str) -> list[Path]:
    """The SQLite database file of an async URL and its journals (none for PostgreSQL)."""
    prefix = "sqlite+aiosqlite:///"
    if not database_url.startswith(prefix) or database_url.endswith(":memory:"):
        return []
    db = Path(database_url[len(prefix):])
    return [db] + [db.with_name(db.name + suffix) for suffix in ("-wal", "-shm", "-journal")]
