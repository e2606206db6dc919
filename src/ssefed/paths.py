"""Where the project's data files live (ssefed runs from its checkout: editable install)."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parents[1]
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
SCHEMAS_DIR = PROJECT_ROOT / "schemas"
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"
DEMO_DIR = PACKAGE_DIR / "demo"
