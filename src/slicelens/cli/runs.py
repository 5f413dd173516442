"""List the runs of a workspace, or summarise one run.

Example:
  slicelens runs --workspace slicelens-workspace
  slicelens runs --run run-0001-demo
"""

from __future__ import annotations

from slicelens.cli.common import add_run, add_workspace, table

HELP = "list a workspace's runs or summarise one"


def add_arguments(p):
    add_workspace(p)
    add_run(p)


def run(args) -> int:
    from slicelens.pipeline.report import print_run_summary
    from slicelens.store import Workspace
    from slicelens.store.paths import missing_data_root

    ws = Workspace(args.workspace, create=False)
    if args.run:
        print_run_summary(ws.run(args.run))
        return 0
    rows, missing = [], {}
    for r in ws.runs():
        s = r.samples
        lab = s[s["label"] >= 0]
        rec = r.record
        gone = missing_data_root(rec)
        if gone:
            missing.setdefault(gone, []).append(r.id)
        rows.append({"run": r.id, "samples": len(s), "accuracy": float(lab["correct"].mean()),
                     "model": str(rec.get("model", {}).get("spec", "")),
                     "data": "MISSING" if gone else "ok",
                     "created": str(rec.get("created_at", ""))[:19]})
    print(table(rows))
    for root, ids in missing.items():
        print(f"data root {root} is missing (runs {', '.join(ids)}): their stored results show, "
              "but images, maps over images and retraining need the data back at that path")
    return 0
