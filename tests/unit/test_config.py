from pathlib import Path

import pytest

from ssefed.cli import main
from ssefed.config import Config, ConfigError, load_config

PROJECT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ssefed.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_documents_exactly_the_defaults():
    example = load_config(PROJECT / "config.example.toml", env={})
    defaults = Config()
    for section in ("node", "database", "log", "admin", "federation", "worker"):
        assert getattr(example, section) == getattr(defaults, section), section


def test_every_key_is_documented_in_the_example():
    import dataclasses

    from ssefed.config import SECTIONS

    text = (PROJECT / "config.example.toml").read_text()
    for section, cls in SECTIONS.items():
        assert f"[{section}]" in text
        for f in dataclasses.fields(cls):
            assert f"\n{f.name} = " in text or f"\n# {f.name} = " in text, (section, f.name)


def test_missing_file_gives_defaults(tmp_path):
    cfg = load_config(tmp_path / "absent.toml", env={})
    assert cfg.node.base_url == "http://127.0.0.1:8080"
    assert cfg.node.listen_port == 8080
    assert cfg.path is None


def test_file_values_are_read_and_typed(tmp_path):
    path = write(tmp_path, """
[node]
base_url = "https://ess.example.org/"
name = "Réseau ESS"
data_dir = "var"
[federation]
allow_private_addresses = true
max_body_bytes = 2048
fetch_timeout_seconds = 3
""")
    cfg = load_config(path, env={})
    assert cfg.node.base_url == "https://ess.example.org"
    assert cfg.node.name == "Réseau ESS"
    assert cfg.node.domain == "ess.example.org"
    assert cfg.node.listen_port == 443
    assert cfg.data_path == (tmp_path / "var").resolve()
    assert cfg.database_url == f"sqlite+aiosqlite:///{(tmp_path / 'var' / 'ssefed.sqlite3').resolve()}"
    assert cfg.federation.allow_private_addresses is True
    assert cfg.federation.max_body_bytes == 2048
    assert cfg.federation.fetch_timeout_seconds == 3.0


def test_port_setting_wins_over_base_url_port(tmp_path):
    path = write(tmp_path, '[node]\nbase_url = "http://127.0.0.1:9000"\n')
    assert load_config(path, env={}).node.listen_port == 9000
    path = write(tmp_path, '[node]\nbase_url = "http://127.0.0.1:9000"\nport = 9100\n')
    cfg = load_config(path, env={})
    assert cfg.node.listen_port == 9100
    assert cfg.node.domain == "127.0.0.1:9000"


def test_environment_overrides_the_file(tmp_path):
    path = write(tmp_path, '[database]\nurl = "sqlite:///a.db"\n[log]\nlevel = "INFO"\n')
    cfg = load_config(path, env={
        "SSEFED_DATABASE_URL": "postgresql://u@127.0.0.1:5432/ssefed",
        "SSEFED_FEDERATION_ALLOW_PRIVATE_ADDRESSES": "true",
        "SSEFED_LOG_LEVEL": "debug",
        "SSEFED_NODE_PORT": "8181",
        "SSEFED_WORKER_POLL_INTERVAL_SECONDS": "0.5",
    })
    assert cfg.database.url == "postgresql://u@127.0.0.1:5432/ssefed"
    assert cfg.database_url == "postgresql+asyncpg://u@127.0.0.1:5432/ssefed"
    assert cfg.federation.allow_private_addresses is True
    assert cfg.log.level == "DEBUG"
    assert cfg.node.port == 8181
    assert cfg.worker.poll_interval_seconds == 0.5


@pytest.mark.parametrize("env, key, words", [
    ({"SSEFED_FEDERATION_ALLOW_PRIVATE_ADDRESSES": "maybe"}, "[federation] allow_private_addresses",
     "true or false"),
    ({"SSEFED_NODE_PORT": "eighty"}, "[node] port", "integer"),
    ({"SSEFED_FEDERATION_MAX_BODY_BYTES": "0"}, "[federation] max_body_bytes", "greater than 0"),
    ({"SSEFED_NODE_BASE_URL": "ftp://x"}, "[node] base_url", "http(s) URL"),
    ({"SSEFED_DATABASE_URL": "mysql://x/y"}, "[database] url", "postgresql"),
    ({"SSEFED_LOG_LEVEL": "LOUD"}, "[log] level", "one of"),
])
def test_bad_environment_value_names_the_key_and_variable(tmp_path, env, key, words):
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "absent.toml", env=env)
    message = str(err.value)
    assert key in message and words in message
    assert next(iter(env)) in message


def test_bad_file_value_names_the_key_and_file(tmp_path):
    path = write(tmp_path, '[worker]\nconcurrency = "four"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert "[worker] concurrency" in str(err.value) and str(path) in str(err.value)


def test_unknown_key_and_section_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"\[node\] base_ur.*unknown key"):
        load_config(write(tmp_path, '[node]\nbase_ur = "http://x"\n'), env={})
    with pytest.raises(ConfigError, match="unknown section"):
        load_config(write(tmp_path, '[nodes]\nx = 1\n'), env={})


def test_invalid_toml_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[node\n"), env={})


def test_cli_refuses_bad_value_at_start_with_the_key(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SSEFED_NODE_PORT", "http")
    code = main(["--config", str(tmp_path / "ssefed.toml"), "serve"])
    assert code == 2
    err = capsys.readouterr().err
    assert "[node] port" in err and "SSEFED_NODE_PORT" in err
    assert "Traceback" not in err
