"""ssefed import FILE.csv: import an existing directory (SSE standard CSV or ssefed's
template), quietly: nothing is sent to other nodes."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ssefed.cli.common import CommandError
from ssefed.cli.common import command, config_from, on_database
from ssefed.domain.importing import import_csv
from ssefed.vocab.ids import LocalIds


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "import", run, help="import organisations (or offers) from a CSV file")
    p.add_argument("file", type=Path, help="SSE standard CSV, or one of ssefed's CSV "
                                           "templates (organisations, offers)")
    p.add_argument("--errors", type=int, default=50, metavar="N",
                   help="how many bad rows to list (default 50; all are counted)")


class Progress:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        rate = done / max(time.monotonic() - self.started, 1e-6)
        width = 30
        filled = width * done // max(total, 1)
        line = (f"importing [{'#' * filled}{'.' * (width - filled)}] {done}/{total} rows "
                f"({rate:.0f}/s)")
        if self.tty:
            print("\r" + line, end="\n" if done >= total else "", file=sys.stderr, flush=True)
        elif done >= total or done % 5000 < 500:
            print(line, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    if not args.file.is_file():
        raise CommandError(f"no such file: {args.file}")

    report = on_database(config, lambda db: import_csv(
        db, LocalIds(config.node.base_url), config.node.domain, args.file, progress=Progress(),
        validity_days=config.freshness.offer_validity_days))
    print(f"{report.rows} row(s): {report.created} {report.what}(s) created, "
          f"{report.updated} updated, {report.unchanged} unchanged, "
          f"{len(report.errors)} refused; {report.with_position} with a position")
    for error in report.errors[:args.errors]:
        print(f"  {error}")
    if len(report.errors) > args.errors:
        print(f"  ... and {len(report.errors) - args.errors} more")
    return 0 if not report.errors else 3
