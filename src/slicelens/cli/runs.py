"""List the runs of a workspace, or summarise one run.

Example:
  slicelens runs --workspace slicelens-workspace
  slicelens runs --run run-0001-demo
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from slicelens.cli.common import add_run, add_workspace, table
from slicelens.errors import SliceLensError

if TYPE_CHECKING:
    from slicelens.store.record import RunRecord
    from slicelens.store.run import Run

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
    rows: list[dict] = []
    missing: dict[str, list[str]] = {}
    for r in ws.runs():
        s = r.samples
        lab = s[s["label"] >= 0]
        rec = r.record
        gone = missing_data_root(rec)
        if gone:
            missing.setdefault(gone, []).append(r.id)
        rows.append({"run": r.id, "samples": len(s), "accuracy": float(lab["correct"].mean()),
                     "model": rec.model.spec,
                     "data": "MISSING" if gone else "ok",
                     "made from": _made_from(rec),
                     "created": str(rec.created_at or "")[:19]})
    print(table(rows))
    try:
        print(f"\ncommands read {ws.base_run().id} (the analysed base run) unless --run says "
              "otherwise")
    except SliceLensError:
        pass
    broken = [r for r in ws.runs(include_incomplete=True) if not r.is_complete]
    if broken:
        print(f"\n{len(broken)} incomplete run{'s' if len(broken) > 1 else ''} (interrupted; "
              "resume or delete):")
        print(table([{"run": r.id, "resume with": resume_hint(r, args.workspace)}
                     for r in broken]))
    for root, ids in missing.items():
        print(f"data root {root} is missing (runs {', '.join(ids)}): their stored results show, "
              "but images, maps over images and retraining need the data back at that path")
    return 0


def _made_from(record: RunRecord) -> str:
    if record.control_key:
        return f"control of {record.base_run or '?'}"
    if record.base_run:
        plan = (record.plan or {}).get("strategy", "repair")
        return f"{plan} of {record.base_run}"
    return "predictions" if record.model_free else "-"


def resume_hint(run: Run, workspace: str) -> str:
    """The command that resumes an interrupted run, as far as its record tells."""
    from slicelens.extract import ExtractConfig

    try:
        record = run.record
    except SliceLensError:
        return "no record.json (killed before it started): delete the folder"
    data, model = record.data, record.model
    source = data.source
    if not source or source == "<arrays>" or not model.spec:
        return "re-run the step that made it (from Python: extract(..., run_dir) again)"
    cmd = (f"slicelens extract --workspace {workspace} --data {shlex.quote(str(source))} "
           f"--model {shlex.quote(str(model.spec))}")
    if model.weights:
        cmd += f" --weights {shlex.quote(str(model.weights))}"
    if data.skip_bad:
        cmd += " --skip-bad"
    defaults = ExtractConfig().model_dump()
    for key, value in record.extract.items():
        if key != "device" and value is not None and value != defaults.get(key):
            values = value if isinstance(value, list) else [value]
            cmd += f" --{key.replace('_', '-')} " + " ".join(shlex.quote(str(v)) for v in values)
    return cmd + f" --resume {run.id}"
