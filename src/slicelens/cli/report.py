"""Write one self-contained HTML report of a run: summary, slices with their intervals,
the worst images of the top slices with heatmaps, the Attribution Mosaic, attribute bug
slices, marks, training-data attribution (table and forest plot) and repairs beside their
matched controls. Images are embedded: the file opens offline and can be sent as is.

Examples:
  slicelens report
  slicelens report --run run-0001-demo --out demo-report.html --top-slices 4 --per-slice 6
"""

from __future__ import annotations

from slicelens.cli.common import add_run, add_workspace

HELP = "one self-contained HTML report of a run (images embedded; opens offline)"


def add_arguments(p):
    add_workspace(p)
    add_run(p)
    p.add_argument("--out", "-o", default="report.html", help="the HTML file (default: report.html)")
    p.add_argument("--top-slices", type=int, default=6, metavar="N",
                   help="slices whose worst images are shown (default: 6)")
    p.add_argument("--per-slice", type=int, default=8, help="images per slice (default: 8)")


def run(args) -> int:
    from slicelens.cli.common import open_run
    from slicelens.export.html import write_report

    _, r = open_run(args)
    path = write_report(r, args.out, top=args.top_slices, per_slice=args.per_slice)
    print(f"report: {path.resolve()} ({path.stat().st_size / 1e6:.1f} MB, self-contained; "
          "opens offline)")
    return 0
