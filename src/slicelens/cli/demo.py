"""Run the whole loop on the planted-bug demo: build the data, train, extract, and show
what the planted bugs do to the model.

Example:
  slicelens demo --workspace slicelens-workspace
  slicelens demo --fast          # a tiny version in seconds
"""

from __future__ import annotations

from slicelens.cli.common import add_workspace

HELP = "run the full loop on the embedded planted-bug demo"


def add_arguments(p):
    add_workspace(p)
    p.add_argument("--fast", action="store_true", help="tiny data and few epochs (a smoke run)")
    p.add_argument("--seed", type=int, default=0, help="seed for data, training and slicing")
    p.add_argument("--model", default=None, help="built-in model to train (default: small-cnn)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs")


def run(args) -> int:
    from slicelens.pipeline.demo import DemoRun, run_demo

    cfg = DemoRun.fast(args.seed) if args.fast else DemoRun()
    if not args.fast:
        cfg.data.seed = cfg.train.seed = args.seed
    if args.model:
        cfg.model = args.model
    if args.epochs:
        cfg.train.epochs = args.epochs
    from slicelens.pipeline.report import demo_summary

    st = run_demo(args.workspace, cfg)
    print(f"\nWorkspace: {st.workspace.root}")
    print(demo_summary(st))
    return 0
