import tomllib

from tests.nodes import run_cli


def files_under(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_init_writes_config_creates_database_and_network_actor_then_is_safe_twice(
        databases, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    config = home / "ssefed.toml"
    env = {"SSEFED_DATABASE_URL": databases.new_url()}
    first = run_cli(config, "init", "--base-url", "http://127.0.0.1:8099", "--name",
                    "Réseau ESS des Hautes-Vallées", "--handle", "hautes-vallees", env=env)
    assert first.returncode == 0, first.stderr
    assert "created the network actor @hautes-vallees@127.0.0.1:8099" in first.stdout
    written = config.read_text(encoding="utf-8")
    settings = tomllib.loads(written)
    assert settings["node"]["base_url"] == "http://127.0.0.1:8099"
    assert settings["node"]["name"] == "Réseau ESS des Hautes-Vallées"
    assert len(settings["admin"]["token"]) >= 32
    assert config.stat().st_mode & 0o077 == 0  # the file holds the admin token

    # Nothing outside the config file and the data dir beside it.
    assert {p.split("/")[0] for p in files_under(home)} <= {"ssefed.toml", "data"}

    second = run_cli(config, "init", "--base-url", "http://127.0.0.1:8099", "--name", "Other",
                     env=env)
    assert second.returncode == 0, second.stderr
    assert "the node exists already" in second.stdout
    assert "@hautes-vallees@127.0.0.1:8099" in second.stdout
    assert config.read_text(encoding="utf-8") == written


def test_init_with_bad_base_url_names_the_option_and_writes_nothing(tmp_path):
    config = tmp_path / "n" / "ssefed.toml"
    result = run_cli(config, "init", "--base-url", "ess.example.org", "--name", "X")
    assert result.returncode == 2
    assert "[node] base_url" in result.stderr and "Traceback" not in result.stderr
    assert not config.exists()


def test_migrate_reports_up_to_date(databases, tmp_path):
    config = tmp_path / "ssefed.toml"
    env = {"SSEFED_DATABASE_URL": databases.new_url()}
    fresh = run_cli(config, "migrate", env=env)
    assert fresh.returncode == 0, fresh.stderr
    assert "migrated the database from empty to" in fresh.stdout
    again = run_cli(config, "migrate", env=env)
    assert "up to date" in again.stdout


def test_commands_on_an_unreachable_database_say_so_without_traceback(tmp_path):
    config = tmp_path / "ssefed.toml"
    env = {"SSEFED_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    result = run_cli(config, "migrate", env=env)
    assert result.returncode == 1
    assert "cannot reach the database postgresql+asyncpg://nobody@127.0.0.1:1/none" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_database_that_was_never_migrated(databases, tmp_path):
    config = tmp_path / "ssefed.toml"
    result = run_cli(config, "serve", env={"SSEFED_DATABASE_URL": databases.new_url()})
    assert result.returncode == 1
    assert "migrate" in result.stderr and "Traceback" not in result.stderr


def test_demo_loads_the_mountain_network_once(nodes):
    node = nodes.create("demo")
    first = node.cli("demo")
    assert first.returncode == 0, first.stderr
    assert "demo loaded:" in first.stdout
    again = node.cli("demo")
    assert again.returncode == 0
    assert "0 organisation(s) and 0 offer(s)/demand(s) added" in again.stdout
    base = ["offer", "add", "--org", "moulin-du-pont-rouge", "--direction", "offer", "--role",
            "transformation", "--kind", "product", "--title", "Farine de petit épeautre"]
    unknown = node.cli(*base, "--category", "spelt-flour")
    assert unknown.returncode == 2 and "--category" in unknown.stderr
    assert "shared taxonomy" in unknown.stderr and "Traceback" not in unknown.stderr
    own = node.cli(*base, "--category", "https://ess-hv.example/categories/petit-epeautre")
    assert own.returncode == 0
    assert "warning: https://ess-hv.example/categories/petit-epeautre is not in the shared " \
           "taxonomy" in own.stderr
    node.start()
    import requests

    listing = requests.get(f"{node.base_url}/api/organisations?limit=500", timeout=10).json()
    items = listing["items"]
    assert 25 <= len(items) <= 40
    assert len({i["handle"] for i in items}) == len(items)
    offers = [o for i in items for o in i["offers"]]
    assert any(o["direction"] == "demand" for o in offers)
    assert any(o["inputs"] for o in offers)
    assert all(i["location"] for i in items)
    # The demo holds the complete wheat -> flour -> bread -> shop chain.
    outputs = {(o["category"], tuple(o["inputs"])) for o in offers if o["direction"] == "offer"}
    assert ("wheat", ()) in outputs
    assert ("flour", ("wheat",)) in outputs
    assert ("bread", ("flour",)) in outputs
    assert any(cat == "bread" and "bread" in inputs for cat, inputs in outputs)
    home = requests.get(node.base_url + "/", timeout=10)
    assert home.status_code == 200 and "Réseau test demo" in home.text
    plain = [i["name"] for i in items if not set("'&<>\"") & set(i["name"])]
    assert plain and all(name in home.text for name in plain)
