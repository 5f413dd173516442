"""Draw the Attribution Mosaic of stored slices: one feature-inversion image per slice
(AttributionScanner Eq. 2), each drawn inside its convex hull at its place in the 2-D
attribution space, with the boundary coloured by a metric.

Run `slicelens slices` first. Writes <run>/mosaic/<slicer>/<slice_id>.png and mosaic.png.

Examples:
  slicelens mosaic --workspace ws
  slicelens mosaic --workspace ws --color-by confidence --steps 300
"""

from __future__ import annotations

from slicelens.cli.common import add_run, add_workspace

HELP = "draw the Attribution Mosaic (feature inversion per slice) of stored slices"


def add_arguments(p):
    from slicelens.explain import MosaicParams
    from slicelens.params import add_model_args

    add_workspace(p)
    add_run(p)
    p.add_argument("--slicer", default="attribution",
                   help="whose stored slices to draw (default: attribution)")
    p.add_argument("--color-by", default="accuracy",
                   choices=["accuracy", "confidence", "spuriousness"],
                   help="metric colouring the tile boundaries (default: accuracy)")
    add_model_args(p, MosaicParams)


def run(args) -> int:
    from slicelens.cli.common import open_run
    from slicelens.explain import MosaicParams
    from slicelens.params import from_args
    from slicelens.pipeline.slices import make_mosaic

    _, r = open_run(args)
    out = make_mosaic(r, args.slicer, from_args(MosaicParams, args), color_by=args.color_by)
    h = out.history
    print(f"inverted {len(out.tiles)} slices in {out.seconds:.1f} s "
          f"(loss {h[0]:.3f} -> {h[-1]:.3f})")
    print(f"mosaic: {out.mosaic}")
    print(f"tiles:  {out.tiles[0].parent}/<slice_id>.png")
    return 0
