"""Configuration: TOML file -> frozen dataclasses, validated once, env overrides.

Every key can be overridden by ``SSEFED_<SECTION>_<KEY>`` (upper case). The names
are a stable interface: scripts and other tools rely on them.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from ssefed.terms import KINDS

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_CONFIG_FILE = "ssefed.toml"


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message names the key."""

    def __init__(self, section: str, key: str, message: str, source: str = "") -> None:
        self.section, self.key = section, key
        where = f"[{section}] {key}"
        env = env_name(section, key)
        origin = f" (from {source})" if source else ""
        super().__init__(f"configuration error: {where}{origin}: {message} "
                         f"(set it in the config file or with {env})")


def env_name(section: str, key: str) -> str:
    return f"SSEFED_{section.upper()}_{key.upper()}"


@dataclass(frozen=True)
class NodeConfig:
    base_url: str = "http://127.0.0.1:8080"
    name: str = "ssefed node"
    host: str = "127.0.0.1"
    port: int | None = None
    data_dir: str = "data"
    # Reverse proxies whose X-Forwarded-For is believed (addresses or CIDR networks):
    # per-address limits then count the client they name. Empty: the connection's peer.
    trusted_proxies: tuple[str, ...] = ()

    @property
    def domain(self) -> str:
        """Host and, when not the scheme's default, port: what WebFinger handles use."""
        return urlsplit(self.base_url).netloc

    @property
    def listen_port(self) -> int:
        if self.port is not None:
            return self.port
        parts = urlsplit(self.base_url)
        return parts.port or (443 if parts.scheme == "https" else 80)


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = ""  # empty: SQLite file ssefed.sqlite3 in data_dir
    pool_size: int = 5
    busy_timeout_ms: int = 15000


@dataclass(frozen=True)
class LogConfig:
    level: str = "INFO"
    access_log: bool = True


@dataclass(frozen=True)
class AdminConfig:
    token: str = ""  # empty: the admin JSON API is disabled


@dataclass(frozen=True)
class FederationConfig:
    allow_private_addresses: bool = False
    max_body_bytes: int = 1_048_576
    max_fetch_bytes: int = 1_048_576
    max_json_depth: int = 32
    fetch_timeout_seconds: float = 10.0
    delivery_timeout_seconds: float = 15.0
    max_redirects: int = 3
    signature_window_seconds: int = 3600
    inbox_per_actor_per_minute: int = 300  # activities one remote actor may send (then 429)
    inbox_per_host_per_minute: int = 3000  # ... and all the actors of one host together


@dataclass(frozen=True)
class WorkerConfig:
    concurrency: int = 4
    delivery_concurrency: int = 64
    delivery_per_host: int = 8
    delivery_retry_base_seconds: float = 60.0
    delivery_give_up_seconds: float = 187_200.0  # 52 hours
    poll_interval_seconds: float = 1.0
    lock_seconds: int = 300
    shutdown_grace_seconds: float = 10.0
    signing_threads: int = 2
    signing_process: bool = True


@dataclass(frozen=True)
class ChainsConfig:
    trust_followed_networks: bool = True
    trusted_networks: str = ""  # actor IRIs of other networks, separated by spaces or commas
    members_max_age_seconds: float = 3600.0
    fanout_timeout_seconds: float = 3.0
    peers_per_hop: int = 8
    max_hops: int = 8
    suppliers_per_input: int = 5
    alternatives: int = 3
    peer_answer_max_offers: int = 200
    peer_requests_per_minute: int = 120

    @property
    def trusted(self) -> frozenset[str]:
        return frozenset(p for p in self.trusted_networks.replace(",", " ").split() if p)


@dataclass(frozen=True)
class ReportsConfig:
    requests_per_minute: int = 5  # reports one client address may file (form and API)


@dataclass(frozen=True)
class RetentionConfig:
    """How long what others sent is kept (the worker's ``retention.prune`` job, hourly)."""

    received_days: int = 30  # bodies of received activities once applied (or refused)
    dedupe_days: int = 14  # their ids, at least: a retry sooner is never applied twice
    jobs_days: int = 7  # finished background jobs (done or dead)
    deliveries_days: int = 30  # finished deliveries of what this node sent (done or dead)


@dataclass(frozen=True)
class SparqlConfig:
    timeout_seconds: float = 10.0
    max_memory_mb: int = 1024
    max_results: int = 10000
    concurrency: int = 2
    concurrency_per_client: int = 1  # queries one client address may run or wait for
    max_query_bytes: int = 16 * 1024


DEFAULT_OFFER_VALIDITY_DAYS = {"product": 180, "service": 365, "equipment": 365,
                               "premises": 365, "skills": 365, "tender": 60}


@dataclass(frozen=True)
class FreshnessConfig:
    validation_months: int = 12
    # per kind of offer or demand: its validity when created without a validUntil
    offer_validity_days: dict[str, int] = field(
        default_factory=lambda: dict(DEFAULT_OFFER_VALIDITY_DAYS))
    remind_days_before: int = 30
    remind_interval_hours: float = 24.0
    email_hook: str = ""  # a command line (no shell) reading {to, subject, text} on stdin

    @property
    def email_command(self) -> list[str]:
        return shlex.split(self.email_hook)


@dataclass(frozen=True)
class ValidationConfig:
    """The network's rule for deciding applications (participatory validation)."""

    min_endorsements: int = 3
    min_colleges: int = 2
    min_peer_members: int = 1
    objections_block: bool = True
    auto_decide: bool = True  # validate as soon as the rule is met


@dataclass(frozen=True)
class Config:
    node: NodeConfig = field(default_factory=NodeConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    log: LogConfig = field(default_factory=LogConfig)
    admin: AdminConfig = field(default_factory=AdminConfig)
    federation: FederationConfig = field(default_factory=FederationConfig)
    worker: WorkerConfig = field(default_factory=WorkerConfig)
    chains: ChainsConfig = field(default_factory=ChainsConfig)
    sparql: SparqlConfig = field(default_factory=SparqlConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    freshness: FreshnessConfig = field(default_factory=FreshnessConfig)
    reports: ReportsConfig = field(default_factory=ReportsConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    path: Path | None = None  # the file it was read from, if any

    @property
    def data_path(self) -> Path:
        p = Path(self.node.data_dir).expanduser()
        if not p.is_absolute():
            base = self.path.parent if self.path else Path.cwd()
            p = base / p
        return p.resolve()

    @property
    def database_url(self) -> str:
        """The SQLAlchemy async URL (driver added to plain sqlite:// / postgresql:// URLs)."""
        return async_database_url(self.database.url, self.data_path)


# the sections of the file, in order: [node] -> NodeConfig, ...
SECTIONS: dict[str, type] = {f.name: f.default_factory for f in dataclasses.fields(Config)
                             if f.name != "path"}


def async_database_url(url: str, data_path: Path) -> str:
    if not url:
        return f"sqlite+aiosqlite:///{data_path / 'ssefed.sqlite3'}"
    scheme, sep, rest = url.partition("://")
    if scheme in ("sqlite", "sqlite+aiosqlite"):
        # sqlite:///relative/path is relative to data_dir's parent (the config dir)
        path = rest[1:] if rest.startswith("/") else rest
        if path and not path.startswith("/") and path != ":memory:":
            path = str((data_path.parent / path).resolve())
        return f"sqlite+aiosqlite:///{path}"
    if scheme in ("postgresql", "postgres", "postgresql+asyncpg"):
        return f"postgresql+asyncpg://{rest}"
    return url


def _coerce(section: str, key: str, typ: Any, value: Any, source: str) -> Any:
    """Turn a TOML or environment value into the field's type, or raise ConfigError."""
    from_env = isinstance(value, str) and source.startswith("SSEFED_")
    optional = "None" in str(typ)
    base = str(typ).replace(" | None", "")
    if optional and (value is None or (from_env and value.strip() == "")):
        return None
    if base == "bool":
        if isinstance(value, bool):
            return value
        if from_env and value.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if from_env and value.strip().lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(section, key, f"expected true or false, got {value!r}", source)
    if base in ("int", "float"):  # a float field takes an integer too, not the reverse
        number = int if base == "int" else float
        if isinstance(value, (int, number)) and not isinstance(value, bool):
            return number(value)
        if from_env:
            try:
                return number(value.strip())
            except ValueError:
                pass
        what = "an integer" if base == "int" else "a number"
        raise ConfigError(section, key, f"expected {what}, got {value!r}", source)
    if base == "dict[str, int]":  # a TOML table, or "key=N,key=N" from the environment
        if from_env:
            table: dict[str, Any] = {}
            for part in value.replace(",", " ").split():
                k, sep, v = part.partition("=")
                try:
                    table[k.strip()] = int(v) if sep else None
                except ValueError:
                    table[k.strip()] = v
            value = table
        if not isinstance(value, dict):
            raise ConfigError(section, key, f"expected a table of integers, got {value!r}", source)
        for k, v in value.items():
            if isinstance(v, bool) or not isinstance(v, int):
                raise ConfigError(section, key, f"{k}: expected an integer, got {v!r}", source)
        return dict(value)
    if base == "tuple[str, ...]":  # a TOML array, or "a, b c" from the environment
        if isinstance(value, str):
            value = value.replace(",", " ").split()
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(section, key, f"expected a list of strings, got {value!r}", source)
        return tuple(v.strip() for v in value if v.strip())
    if base == "str":
        if isinstance(value, str):
            return value
        raise ConfigError(section, key, f"expected a string, got {value!r}", source)
    raise AssertionError(f"unsupported config type {typ}")  # pragma: no cover


def validate(cfg: Config, sources: Mapping[tuple[str, str], str] | None = None) -> None:
    """Raise ConfigError naming the first invalid key (``sources`` says where values came from)."""
    sources = sources or {}

    def err(section: str, key: str, msg: str) -> ConfigError:
        return ConfigError(section, key, msg, sources.get((section, key), ""))

    parts = urlsplit(cfg.node.base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise err("node", "base_url", f"expected an http(s) URL such as https://ess.example.org, "
                                      f"got {cfg.node.base_url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise err("node", "base_url", "must be the node's origin, without a path, query or fragment")
    try:
        _ = parts.port  # reading it raises ValueError on an invalid port
    except ValueError:
        raise err("node", "base_url", "has an invalid port") from None
    if cfg.node.port is not None and not 0 <= cfg.node.port <= 65535:
        raise err("node", "port", f"must be between 0 and 65535, got {cfg.node.port}")
    if not cfg.node.name.strip():
        raise err("node", "name", "must not be empty")
    if not cfg.node.host.strip():
        raise err("node", "host", "must not be empty")
    if not cfg.node.data_dir.strip():
        raise err("node", "data_dir", "must not be empty")
    for proxy in cfg.node.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise err("node", "trusted_proxies", f"expected addresses or networks such as "
                                                 f"127.0.0.1 or 10.0.0.0/8, got {proxy!r}") from None
    url = cfg.database.url
    if url and url.partition("://")[0] not in (
            "sqlite", "sqlite+aiosqlite", "postgresql", "postgres", "postgresql+asyncpg"):
        raise err("database", "url", "expected a sqlite:/// or postgresql:// URL, "
                                     f"got {url.partition('://')[0]!r}")
    for iri in cfg.chains.trusted:
        if not iri.startswith(("https://", "http://")):
            raise err("chains", "trusted_networks", f"expected actor IRIs, got {iri!r}")
    if cfg.chains.max_hops > 16:
        raise err("chains", "max_hops", "must be at most 16")
    fresh = cfg.freshness
    unknown = sorted(set(fresh.offer_validity_days) - set(KINDS))
    if unknown:
        raise err("freshness", "offer_validity_days", f"unknown kind {unknown[0]!r}; known: "
                                                      f"{', '.join(KINDS)}")
    for kind, days in fresh.offer_validity_days.items():
        if not 1 <= days <= 3650:
            raise err("freshness", "offer_validity_days",
                      f"{kind}: must be between 1 and 3650 days, got {days}")
    if not 1 <= fresh.validation_months <= 120:
        raise err("freshness", "validation_months", "must be between 1 and 120")
    if not 1 <= fresh.remind_days_before <= 365:
        raise err("freshness", "remind_days_before", "must be between 1 and 365")
    try:
        _ = fresh.email_command  # reading it raises ValueError on a bad command line
    except ValueError as exc:
        raise err("freshness", "email_hook", f"is not a command line: {exc}") from None
    if cfg.log.level.upper() not in LOG_LEVELS:
        raise err("log", "level", f"expected one of {', '.join(LOG_LEVELS)}, got {cfg.log.level!r}")
    positive = [("database", "pool_size"), ("database", "busy_timeout_ms"),
                ("federation", "max_body_bytes"), ("federation", "max_fetch_bytes"),
                ("federation", "max_json_depth"), ("federation", "fetch_timeout_seconds"),
                ("federation", "delivery_timeout_seconds"),
                ("federation", "signature_window_seconds"),
                ("worker", "concurrency"), ("worker", "poll_interval_seconds"),
                ("worker", "delivery_concurrency"), ("worker", "delivery_per_host"),
                ("worker", "delivery_retry_base_seconds"), ("worker", "delivery_give_up_seconds"),
                ("worker", "lock_seconds"), ("chains", "members_max_age_seconds"),
                ("chains", "fanout_timeout_seconds"), ("chains", "peers_per_hop"),
                ("chains", "max_hops"), ("chains", "suppliers_per_input"),
                ("chains", "alternatives"), ("chains", "peer_answer_max_offers"),
                ("chains", "peer_requests_per_minute"), ("sparql", "timeout_seconds"),
                ("sparql", "max_memory_mb"), ("sparql", "max_results"), ("sparql", "concurrency"),
                ("sparql", "concurrency_per_client"), ("sparql", "max_query_bytes"),
                ("freshness", "remind_interval_hours"), ("reports", "requests_per_minute"),
                ("federation", "inbox_per_actor_per_minute"),
                ("federation", "inbox_per_host_per_minute"), ("retention", "received_days"),
                ("retention", "dedupe_days"), ("retention", "jobs_days"),
                ("retention", "deliveries_days")]
    for section, key in positive:
        if getattr(getattr(cfg, section), key) <= 0:
            raise err(section, key, "must be greater than 0")
    if cfg.sparql.concurrency_per_client > cfg.sparql.concurrency:
        raise err("sparql", "concurrency_per_client", "must be at most [sparql] concurrency")
    for section, key in [("federation", "max_redirects"), ("worker", "shutdown_grace_seconds"),
                         ("worker", "signing_threads"), ("validation", "min_endorsements"),
                         ("validation", "min_colleges"), ("validation", "min_peer_members")]:
        if getattr(getattr(cfg, section), key) < 0:
            raise err(section, key, "must not be negative")


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read ``path`` (when it exists) and apply ``SSEFED_*`` environment overrides.

    A missing file gives the defaults, which are the values of config.example.toml.
    """
    env = os.environ if env is None else env
    file_path = Path(path) if path is not None else Path(DEFAULT_CONFIG_FILE)
    raw: dict[str, Any] = {}
    found: Path | None = None
    if file_path.is_file():
        found = file_path.resolve()
        try:
            raw = tomllib.loads(file_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("file", str(file_path), f"is not valid TOML: {exc}") from None
    values: dict[str, dict[str, Any]] = {}
    sources: dict[tuple[str, str], str] = {}
    for section, table in raw.items():
        if section not in SECTIONS:
            raise ConfigError(section, "*", f"unknown section [{section}] in {file_path}; "
                                           f"known: {', '.join(SECTIONS)}")
        if not isinstance(table, dict):
            raise ConfigError(section, "*", "must be a table")
        fields = {f.name: f for f in dataclasses.fields(SECTIONS[section])}
        for key, value in table.items():
            if key not in fields:
                raise ConfigError(section, key, f"unknown key; known keys of [{section}]: "
                                                f"{', '.join(fields)}", str(file_path))
            src = str(file_path)
            values.setdefault(section, {})[key] = _coerce(section, key, fields[key].type, value, src)
            sources[(section, key)] = src
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            name = env_name(section, f.name)
            if name in env:
                values.setdefault(section, {})[f.name] = _coerce(section, f.name, f.type, env[name], name)
                sources[(section, f.name)] = name
    days = values.get("freshness", {}).get("offer_validity_days")
    if days is not None:  # the kinds not named keep their default
        values["freshness"]["offer_validity_days"] = {**DEFAULT_OFFER_VALIDITY_DAYS, **days}
    cfg = Config(**{s: SECTIONS[s](**values.get(s, {})) for s in SECTIONS}, path=found)
    if cfg.log.level != cfg.log.level.upper():
        cfg = dataclasses.replace(cfg, log=dataclasses.replace(cfg.log, level=cfg.log.level.upper()))
    validate(cfg, sources)
    if cfg.node.base_url.endswith("/"):
        cfg = dataclasses.replace(cfg, node=dataclasses.replace(
            cfg.node, base_url=cfg.node.base_url.rstrip("/")))
    return cfg


def config_to_toml_dict(cfg: Config) -> dict[str, dict[str, Any]]:
    """What ``init`` writes: every section, without unset optional values."""
    out: dict[str, dict[str, Any]] = {}
    for section in SECTIONS:
        table = {k: v for k, v in dataclasses.asdict(getattr(cfg, section)).items() if v is not None}
        out[section] = table
    return out
