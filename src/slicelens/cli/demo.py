"""Run the whole loop on the planted-bug demo: build the data, train, extract, and show
what the planted bugs do to the model (the steps live in :mod:`slicelens.demo`).

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
    from slicelens.demo.run import DemoRun, run_demo
    from slicelens.demo.summary import demo_summary
    from slicelens.store import Workspace

    cfg = DemoRun.from_options(fast=args.fast, seed=args.seed, model=args.model, epochs=args.epochs)
    st = run_demo(Workspace(args.workspace), cfg)
    print(f"\nWorkspace: {st.workspace.root}")
    print(demo_summary(st))
    return 0
