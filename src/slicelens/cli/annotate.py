"""Mark slices core / spurious / wrong labels, and see the spuriousness every mark implies.

Marks are stored in the workspace's SQLite database with their full history; after
every change the propagated spuriousness of all slices is printed (AttributionScanner
Sec. III-E: human marks show as "human", the rest as "propagated").

Examples:
  slicelens annotate --slice attribution-03 --label spurious --description "brick background"
  slicelens annotate --slice error-clustering:error-clustering-02 --label wrong_labels
  slicelens annotate --list
  slicelens annotate --edit 4 --label core
  slicelens annotate --undo 4
  slicelens annotate --history 4
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slicelens.cli.common import add_run, add_workspace, table

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace

HELP = "mark slices core / spurious / wrong labels (list, edit, undo, history)"


def add_arguments(p):
    from slicelens.feedback import SLICE_LABELS

    add_workspace(p)
    add_run(p)
    p.add_argument("--slicer", default=None,
                   help="slice set for --list (default: the set that holds the newest mark, else "
                        "the run's preferred stored set: error-aware, else attribution, else "
                        "the newest; with --slice, name it "
                        "in the address instead: --slice SLICER:ID)")
    p.add_argument("--slice", dest="slice_id", default=None, metavar="SLICER:ID",
                   help="slice to mark: attribution:attribution-03, or attribution-03 (the "
                        "slicer is the id's prefix)")
    p.add_argument("--label", choices=SLICE_LABELS, default=None, help="the mark")
    p.add_argument("--description", default=None, help="free text, e.g. 'brick background'")
    p.add_argument("--author", default="anonymous", help="who marks (default: anonymous)")
    act = p.add_mutually_exclusive_group()
    act.add_argument("--list", action="store_true", help="list the marks of this run and slicer")
    act.add_argument("--edit", type=int, metavar="ID", help="change a mark's --label / --description")
    act.add_argument("--undo", type=int, metavar="ID", help="withdraw a mark")
    act.add_argument("--redo", type=int, metavar="ID", help="reinstate an undone mark")
    act.add_argument("--history", type=int, metavar="ID", help="every change of a mark")
    p.add_argument("--all", action="store_true", help="with --list: include undone marks")


def run(args) -> int:
    from slicelens.cli.common import open_run
    from slicelens.errors import SliceLensError
    from slicelens.feedback import annotations as fa

    ws, run_ = open_run(args)
    args.slicer = _resolve_slicer(args, ws, run_)
    if args.list or args.all:
        print(table([{**_mark_row(r.annotation), "now on": r.slice_id or "orphaned",
                      "anchor": r.state}
                     for r in fa.resolve_marks(ws, run_, args.slicer, include_undone=args.all)]))
        return 0
    if args.history is not None:
        events = fa.mark_history(ws, args.history)
        print(f"history of mark {args.history}:")
        print(table([{"at": e.at[:19].replace("T", " "), "action": e.action, "author": e.author,
                      "change": describe_change(e.action, e.payload)} for e in events]))
        return 0
    if args.edit is not None:
        a = fa.edit_mark(ws, args.edit, label=args.label, description=args.description,
                         author=args.author)
    elif args.undo is not None:
        a = fa.undo_mark(ws, args.undo, author=args.author)
    elif args.redo is not None:
        a = fa.redo_mark(ws, args.redo, author=args.author)
    else:
        if not (args.slice_id and args.label):
            raise SliceLensError("give --slice and --label to mark a slice (or --list, --edit, "
                                 "--undo, --redo, --history)")
        a = fa.annotate_slice(ws, run_, args.slicer, args.slice_address, args.label,
                              args.description or "", args.author)
    print(table([_mark_row(a)]))
    print()
    try:
        print_spuriousness(ws, run_, args.slicer)
    except SliceLensError as e:
        # the change is committed: say why there is no table, but do not report failure
        print(f"(mark saved; no spuriousness table: {e})")
    return 0


def print_spuriousness(ws: Workspace, run: Run, slicer: str, echo=print) -> None:
    """The refreshed spuriousness table of every slice (human marks first in force)."""
    from slicelens.feedback.propagation import current_spuriousness, with_slice_metrics
    from slicelens.slicing.base import SliceSet

    t = with_slice_metrics(current_spuriousness(ws, run, slicer), SliceSet.load(run.path, slicer))
    echo(f"spuriousness of {slicer} slices ({t.attrs.get('note', '')}):")
    echo(table(t[["slice_id", "size", "accuracy", "spuriousness", "source", "mark"]]
               .to_dict("records")))


def _resolve_slicer(args, ws: Workspace, run_: Run) -> str:
    """The slicer of ``--slice SLICER:ID`` (or of the id's prefix); ``--slicer X --slice ID``
    still works, with a note. Without a slice: ``--slicer``, else the set that holds the
    newest mark, else the run's preferred set."""
    import sys

    from slicelens.feedback.annotations import marked_slicer
    from slicelens.slicing.address import parse_slice_address

    args.slice_address = None
    if not args.slice_id:
        return args.slicer or marked_slicer(ws, run_)
    if ":" not in args.slice_id and args.slicer:
        print(f"slicelens: --slicer {args.slicer} --slice {args.slice_id} is deprecated; use "
              f"--slice {args.slicer}:{args.slice_id}", file=sys.stderr)
    slicer, args.slice_address = parse_slice_address(args.slice_id, args.slicer)
    return slicer


def describe_change(action: str, payload: dict) -> str:
    """One mark event in words: ``label core -> spurious; description 'x' -> 'y'``."""
    if not payload:
        return action
    if action == "create" and "label" in payload:
        desc = payload.get("description")
        return (f"marked {payload.get('target_id', '')} {payload['label']}"
                + (f": {desc!r}" if desc else ""))
    if set(payload) == {"status"}:
        return f"status -> {payload['status']}"
    before, after = payload.get("before"), payload.get("after")
    if isinstance(before, dict) and isinstance(after, dict):
        parts = [f"{k} {before.get(k)!r} -> {after.get(k)!r}" for k in after
                 if before.get(k) != after.get(k)]
        return "; ".join(parts) or "no change"
    parts = []
    for k, v in payload.items():
        if isinstance(v, dict):
            v = ", ".join(f"{a}={b!r}" for a, b in v.items())
        elif isinstance(v, list):
            v = f"{len(v)} items" if len(v) > 5 else ", ".join(map(str, v))
        parts.append(f"{k}: {v}")
    return "; ".join(parts)


def _mark_row(a) -> dict:
    return {"id": a.id, "slice": a.target_id, "label": a.label, "description": a.description,
            "author": a.author, "status": a.status, "updated": a.updated_at[:19]}
