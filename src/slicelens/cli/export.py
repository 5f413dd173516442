"""Export a run's stored results as tables, and as a folder FiftyOne imports.

Tables (one file per table and format): slices (every stored slicer, with intervals and
the mark in force), members (slice membership with class names), marks, bugs (attribute
bug slices) and tda (training-data attribution rows). --fiftyone adds a
FiftyOneImageClassificationDataset folder whose samples carry slice membership and marks
as tags (fiftyone/load_fiftyone.py imports it).

Examples:
  slicelens export --out results/
  slicelens export --out results/ --format csv parquet json --fiftyone
  slicelens export --out results/ --tables slices members
"""

from __future__ import annotations

from slicelens.cli.common import add_run, add_workspace

HELP = "export slices, members, marks, bugs and TDA rows (CSV / Parquet / JSON, FiftyOne)"


def add_arguments(p):
    from slicelens.export.tables import FORMATS, TABLES

    add_workspace(p)
    add_run(p)
    p.add_argument("--out", "-o", default="slicelens-export", help="folder to write into "
                   "(default: ./slicelens-export)")
    p.add_argument("--format", nargs="+", choices=FORMATS, default=["csv"], dest="formats",
                   help="table formats (default: csv)")
    p.add_argument("--tables", nargs="+", choices=TABLES, default=list(TABLES),
                   help="which tables (default: all)")
    p.add_argument("--fiftyone", action="store_true",
                   help="also write a FiftyOne-importable folder (images copied, tags for "
                        "slices and marks)")


def run(args) -> int:
    from slicelens.cli.common import open_run, table
    from slicelens.export.tables import export_run, read_export

    _, r = open_run(args)
    files = export_run(r, args.out, formats=tuple(args.formats), fiftyone=args.fiftyone,
                       only=tuple(args.tables))
    rows = []
    for f in files:
        n = len(read_export(f)) if f.suffix in (".csv", ".parquet") else ""
        rows.append({"file": str(f), "rows": n})
    print(table(rows))
    if args.fiftyone:
        print(f"\nFiftyOne: python {args.out}/fiftyone/load_fiftyone.py   (or "
              "fo.Dataset.from_dir(..., dataset_type=fo.types.FiftyOneImageClassificationDataset))")
    return 0
