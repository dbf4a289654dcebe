"""``twinboard literacy ...``: import files on the server and print the KPIs.

    twinboard literacy import FILE --as training|roster|outreach [--dry-run] [--actor NAME] [--json]
    twinboard literacy kpis [--json]

An import refused prints every error (``file:row: field 'x' (column ...): why``) and exits 2, storing
nothing; a clean one prints what was added, updated and left unchanged.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.api import open_configured_store

from . import importer, kpis
from . import records as R

CLI_MAX_BYTES = 50 * 1024 * 1024
CLI_MAX_ROWS = 200_000


def _import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"twinboard: {path}: no such file", file=sys.stderr)
        return 2
    if path.stat().st_size > CLI_MAX_BYTES:
        print(f"twinboard: {path}: over the limit of {CLI_MAX_BYTES:,} bytes", file=sys.stderr)
        return 2
    store = open_configured_store(args.config)
    try:
        result = importer.import_file(store, path.read_bytes(), path.name, args.dataset, args.actor,
                                      max_bytes=CLI_MAX_BYTES, max_rows=CLI_MAX_ROWS, dry_run=args.dry_run)
    except importer.ImportRefused as exc:
        if args.json:
            print(json.dumps({"errors": exc.errors}, ensure_ascii=False, indent=2))
        for e in exc.errors:
            print(f"twinboard: {e}", file=sys.stderr)
        print(f"twinboard: import refused ({len(exc.errors)} errors); nothing was stored", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        d = result.as_dict()
        print(f"{d['file']}: {d['rows']} rows as {d['dataset']}: {d['added']} added, {d['updated']} updated, "
              f"{d['unchanged']} unchanged" + (" (checked only, nothing stored)" if d["dry_run"] else ""))
        if d["ignored_columns"]:
            print(f"columns ignored: {', '.join(d['ignored_columns'])}")
    return 0


def _kpis(args: argparse.Namespace) -> int:
    snap = kpis.compute(open_configured_store(args.config))
    if args.json:
        print(json.dumps(snap.as_dict(), ensure_ascii=False, indent=2))
        return 0
    for role, share in snap.participation.items():
        print(f"{R.ROLES[role][0]:<10} {share.done:>5}/{share.required:<5} {100 * share.rate:6.1f}%")
    print(f"{'高危一线员工':<10} {snap.frontline.done:>5}/{snap.frontline.required:<5} {100 * snap.frontline.rate:6.1f}%")
    print(f"{'三类人员持证':<10} {snap.three_types.done:>5}/{snap.three_types.required:<5} {100 * snap.three_types.rate:6.1f}%")
    for g in snap.gaps:
        print(f"  {g.unit}: {g.target} {g.done}/{g.required}" + (f" ({'、'.join(g.missing[:8])})" if g.missing else ""))
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("literacy", help="safety literacy: import training records, rosters, outreach; KPIs")
    sub = p.add_subparsers(dest="literacy_command", required=True)
    i = sub.add_parser("import", help="import a .csv or .xlsx file (all rows or none; idempotent)")
    i.add_argument("file")
    i.add_argument("--as", dest="dataset", required=True, choices=importer.DATASETS)
    i.add_argument("--dry-run", action="store_true", help="check only, store nothing")
    i.add_argument("--actor", default="cli", help="who the audit log names")
    i.add_argument("--json", action="store_true")
    i.set_defaults(fn=_import)
    k = sub.add_parser("kpis", help="the plan's targets and each unit's shortfall")
    k.add_argument("--json", action="store_true")
    k.set_defaults(fn=_kpis)
