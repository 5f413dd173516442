"""A workspace whose base run has every kind of stored result the report and exports
show: slices of two slicers, a mosaic image, attribute bug slices, a mark, a TDA result,
and a repair beside its matched control. Synthetic and fast (no training).

Nothing here is a test; tests/test_report.py and tests/test_export.py import it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image


def full_workspace(root: Path, n: int = 80):
    """Returns ``(workspace, base run)`` as ``slicelens.api`` objects."""
    from test_api_support import write_fixture_slices, write_synthetic_run

    import slicelens as sl
    from slicelens.pipeline.slices import find_slices
    from slicelens.slicing.base import Slice, SliceSet
    from slicelens.store.atomic import write_json
    from slicelens.tda.groups import ErrorGroup, TrainingGroup
    from slicelens.tda.result import TDAResult, TDARow

    _, base = write_synthetic_run(root, n)
    write_fixture_slices(base, "attribution", k=6)
    find_slices(base, "error-clustering", {})
    mosaic = Path(base.path) / "mosaic" / "attribution" / "mosaic.png"
    mosaic.parent.mkdir(parents=True)
    Image.fromarray(np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (64, 1))).convert(
        "RGB").save(mosaic)
    s = base.samples
    val = s["id"].to_numpy(str)[s["split"].to_numpy() == "val"]
    bug = Slice("attributes-00", val[:10], description="background: brick; digit: 7",
                metrics={"size": 10, "accuracy": 0.3, "acc_low": 0.11, "acc_high": 0.6},
                bug_type="spurious", evidence={"p_pred": 0.9})
    SliceSet("attributes", {}, base.id, "val", [bug], val, np.r_[np.zeros(10, int),
                                                               -np.ones(len(val) - 10, int)]
             ).save(base.path)
    train = s["id"].to_numpy(str)[s["split"].to_numpy() == "train"]
    rows = [TDARow(TrainingGroup("label: a", "label", train[:8]), "remove", "loss",
                   effect=-0.2, ci_low=-0.3, ci_high=-0.1, p_value=0.01, significant=True,
                   global_effect=0.01, global_ci_low=-0.01, global_ci_high=0.03,
                   n_retrains=8, method="exact", rank=1),
            TDARow(TrainingGroup("pred: b", "pred", train[8:14]), "upweight", "loss",
                   effect=0.05, ci_low=-0.05, ci_high=0.15, p_value=0.4, n_retrains=8,
                   method="exact", factor=2.0, rank=2)]
    errors = s["id"].to_numpy(str)[(s["split"] == "val").to_numpy() & ~s["correct"].to_numpy(bool)]
    TDAResult(ErrorGroup("label a -> pred b", errors[:5], "confusion"), "loss", rows,
              {"n_train": len(train)}, {}, base.id).save(Path(base.path) / "tda" / "a-b.json")
    _, ctrl = write_synthetic_run(root, n, seed=1)
    _, new = write_synthetic_run(root, n, seed=2)
    for r, extra in ((ctrl, {"base_run": base.id, "control_key": "k"}),
                     (new, {"base_run": base.id, "control_run": ctrl.id,
                            "plan": {"strategy": "dfr"}})):
        write_json(Path(r.path) / "record.json", {**json.loads((Path(r.path) / "record.json")
                                                               .read_text()), **extra})
    ws = sl.Workspace(root, create=False)
    run = ws.run()
    run.annotate("attribution-00", "spurious", "brick background", author="ana")
    return ws, run
