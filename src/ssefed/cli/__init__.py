"""The ``ssefed`` command: one module per command group."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from ssefed import __version__
from ssefed.config import DEFAULT_CONFIG_FILE, ConfigError
from ssefed.domain.errors import DomainError, InvalidInput
from ssefed.cli import (admin, chains, demo, export, follow, gaps, importing, init, migrate,
                        offer, org, proof, reports, search, serve, sparql, stale, token,
                        vetting)
from ssefed.cli.common import CommandError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ssefed", description="Node of a federated Social and Solidarity Economy network.")
    parser.add_argument("--config", default=DEFAULT_CONFIG_FILE, metavar="FILE",
                        help=f"configuration file (default: ./{DEFAULT_CONFIG_FILE}; when it does "
                             "not exist, the defaults of config.example.toml apply)")
    parser.add_argument("--version", action="version", version=f"ssefed {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (init, migrate, serve, demo, org, offer, importing, export, sparql, token,
                   follow, chains, search, gaps, proof, stale, admin, reports, vetting):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"ssefed: {exc}", file=sys.stderr)
        return 2
    except InvalidInput as exc:
        print(f"ssefed: invalid {exc.field}: {exc.message}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"ssefed: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except (DomainError, OSError, ConnectionError) as exc:
        print(f"ssefed: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: say so briefly, details with --debug
        if os.environ.get("SSEFED_DEBUG"):
            raise
        print(f"ssefed: internal error: {type(exc).__name__}: {exc} "
              "(set SSEFED_DEBUG=1 to see the traceback)", file=sys.stderr)
        return 70
