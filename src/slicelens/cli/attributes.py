"""Propose, assign, show and edit the attributes of a run (HiBug Sec. 3.1, App. 7.2).

Actions:
  propose   write the run's attribute list (built-in, your file, or a language model)
  assign    fill the attribute matrix (one value and score per image and attribute)
  show      print each attribute's value histogram (the default action)
  clusters  list the clusters of `backend: clusters` attributes (--out: a naming template)
  name      name those clusters once each from a naming file (--names FILE)

Examples:
  slicelens attributes propose --object digit --out spec.yaml
  slicelens attributes --edit spec.yaml
  slicelens attributes assign --backend default
  slicelens attributes show --split val
  slicelens attributes propose --proposer llm --task "digits on textured backgrounds"
  slicelens attributes propose --object digit --regions --clusters
  slicelens attributes clusters --out names.yaml      # fill in the names, then
  slicelens attributes name --names names.yaml
"""

from __future__ import annotations

from slicelens.cli.common import add_run, add_workspace

HELP = "propose, assign, show or edit the attributes HiBug slices by"


def add_arguments(p):
    from slicelens.attributes.base import ASSIGNERS, PROPOSERS, TAGGERS, load_backends

    load_backends()
    add_workspace(p)
    add_run(p)
    p.add_argument("action", nargs="?", default="show", choices=["propose", "assign", "show", "clusters", "name"])
    p.add_argument("--edit", metavar="FILE", help="replace the run's attribute list by FILE (YAML/JSON)")
    p.add_argument("--proposer", default="builtin", choices=sorted(PROPOSERS), help="propose: backend")
    p.add_argument("--task", default="", help="propose: the task in words (llm)")
    p.add_argument("--object", default="object", help="propose: what the classifier looks at")
    p.add_argument("--spec", default=None, help="propose --proposer user: your attribute file")
    p.add_argument("--no-semantic", action="store_true",
                   help="propose builtin: skip the ImageNet-assigned 'background' (faster)")
    p.add_argument("--regions", action="store_true",
                   help="propose builtin: add the explained-region attributes (region-stats)")
    p.add_argument("--clusters", action="store_true",
                   help="propose builtin: add 'kind' (clusters of the model's features) and "
                        "'shape' (clusters of the object's shape) per class, to name once")
    p.add_argument("--names", metavar="FILE", help="name: the naming file (YAML/JSON)")
    p.add_argument("--values", action="store_true",
                   help="propose: also propose values from representative images")
    p.add_argument("--tagger", default="imagenet", choices=sorted(TAGGERS), help="value tagger")
    p.add_argument("--out", default=None, help="propose: also write the list to this YAML/JSON "
                                               "file; clusters: write a naming template")
    p.add_argument("--backend", default="default", choices=["default", *sorted(ASSIGNERS)],
                   help="assign: backend for every attribute (default: each attribute's own)")
    p.add_argument("--image-size", type=int, default=None, help="assign: image side for the backend")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="assign: a backend parameter, e.g. n_clusters=30 (VALUE read as JSON "
                        "when it parses), repeatable")
    p.add_argument("--force", action="store_true", help="assign: recompute a cached matrix")
    p.add_argument("--split", default=None, help="show: histograms of one split")


def run(args) -> int:
    from slicelens.cli.common import open_run
    from slicelens.pipeline import attributes as pa

    _, run_ = open_run(args)
    if args.edit:
        spec = pa.edit_spec(run_, args.edit)
        print(f"attribute list of {run_.id} replaced by {args.edit}:")
        _print_spec(spec)
        print("\nNext: slicelens attributes assign")
        return 0
    if args.action == "propose":
        return _propose(args, run_)
    if args.action in ("clusters", "name"):
        return _clusters(args, run_)
    if args.action == "assign":
        from slicelens.cli.common import parse_sets

        params = {**({"image_size": args.image_size} if args.image_size else {}),
                  **parse_sets(args.set)} or None
        pa.assign_attributes(run_, args.backend, pa.load_spec(run_.path), backend_params=params,
                             force=args.force)
    _print_histograms(pa.histograms(run_, args.split))
    if args.action == "assign":
        print("\nNext: slicelens bugs")
    return 0


def _propose(args, run_) -> int:
    from slicelens.attributes.proposal import propose_attributes
    from slicelens.attributes.values import propose_values
    from slicelens.pipeline import attributes as pa

    params = {"builtin": {"object": args.object, "semantic": not args.no_semantic,
                          "regions": args.regions, "clusters": args.clusters},
              "user": {"path": args.spec}}.get(args.proposer, {})
    spec = propose_attributes(args.proposer, args.task, **{k: v for k, v in params.items()
                                                           if v is not None})
    if args.proposer != "builtin":
        spec.object = args.object
    if args.values:
        spec = propose_values(run_, spec, run_.dataset(), tagger=args.tagger)
    path = pa.save_spec(run_, spec)
    if args.out:
        spec.save(args.out)
    _print_spec(spec)
    print(f"\nsaved to {path}" + (f" and {args.out} (edit it, then: slicelens attributes "
                                  f"--edit {args.out})" if args.out else ""))
    print("Next: slicelens attributes assign")
    return 0


def _clusters(args, run_) -> int:
    from slicelens.attributes.cluster_names import cluster_table, load_names, write_naming_file
    from slicelens.errors import SliceLensError
    from slicelens.pipeline import attributes as pa

    if args.action == "name":
        if not args.names:
            raise SliceLensError("attributes name needs --names FILE (write a template with "
                                 "`slicelens attributes clusters --out names.yaml`)")
        pa.name_clusters(run_, args.names)
        print(f"cluster names of {run_.id} read from {args.names}; slices described again")
    t = cluster_table(run_.path)
    for r in t.itertuples():
        print(f"  {r.attribute:<12} {r.key:<28} {r.name or '(unnamed)':<18} n={r.size:<6} "
              f"e.g. {', '.join(r.examples[:4])}")
    if args.out:
        write_naming_file(args.out, t, load_names(run_.path))
        print(f"\nnaming template written to {args.out}: name each cluster after looking at "
              f"its examples, then: slicelens attributes name --names {args.out}")
    return 0


def _print_spec(spec) -> None:
    for a in spec.attributes:
        vals = ", ".join(a.values) if a.values else "(from the data)"
        print(f"  {a.name:<18} [{a.backend or 'default'}] {vals}")


def _print_histograms(hist: dict, width: int = 30) -> None:
    for attr, rows in hist.items():
        total = max(sum(r["n"] for r in rows), 1)
        print(f"{attr}")
        for r in rows:
            bar = "#" * round(width * r["n"] / total)
            score = r["mean_score"]
            score_txt = f"score {score:.2f}" if score == score else ""  # NaN when empty
            print(f"  {r['value']:<18} {r['n']:>7}  {bar:<{width}} {score_txt}")
