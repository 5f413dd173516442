"""A folder FiftyOne imports: its documented ``FiftyOneImageClassificationDataset`` layout,
with slice membership and marks as sample tags.

Layout (FiftyOne docs, "Loading datasets from disk")::

    fiftyone/
        data/<uuid>.<ext>      the images (uuid = the sample's position, 000000, ...)
        labels.json            {"classes": [...], "labels": {"<uuid>": <class index> | null}}
        predictions.json       the same format, the model's predictions
        tags.json              {"<uuid>": ["slice:attribution:attribution-03", "mark:spurious",
                                "error", "split:val", ...]}
        ids.json               {"<uuid>": "<slicelens sample id>"}
        load_fiftyone.py       imports the folder and sets the tags (run it where fiftyone is)

FiftyOne itself is not a dependency: the files follow the format, and the test checks
them against its documented structure.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from slicelens.store.run import Run

LOADER = '''"""Import this folder into FiftyOne with slicelens' tags (run: python load_fiftyone.py)."""
import json
from pathlib import Path

import fiftyone as fo

here = Path(__file__).parent
ds = fo.Dataset.from_dir(dataset_dir=str(here),
                         dataset_type=fo.types.FiftyOneImageClassificationDataset,
                         label_field="ground_truth", name="{name}", overwrite=True)
preds = json.loads((here / "predictions.json").read_text())
tags = json.loads((here / "tags.json").read_text())
ids = json.loads((here / "ids.json").read_text())
for sample in ds.iter_samples(autosave=True):
    uuid = Path(sample.filepath).stem
    sample.tags = tags.get(uuid, [])
    sample["slicelens_id"] = ids.get(uuid)
    p = preds["labels"].get(uuid)
    if p is not None:
        sample["prediction"] = fo.Classification(label=preds["classes"][p])
print(ds)
session = fo.launch_app(ds)
session.wait()
'''


def sample_tags(run: Run, tables: dict) -> dict[str, list[str]]:
    """Tags per sample id: ``split:<s>``, ``error`` (misclassified), ``slice:<slicer>:<id>``
    for every stored slice holding it, ``mark:<label>`` for marks in force on those slices."""
    s = run.samples
    tags: dict[str, list[str]] = {str(i): [f"split:{sp}"] for i, sp in zip(s["id"], s["split"],
                                                                          strict=True)}
    wrong = s["correct"].astype("boolean").eq(False).fillna(False).to_numpy(bool)
    for sid in s["id"].astype(str).to_numpy()[wrong]:
        tags[sid].append("error")
    marks = {}
    sl = tables["slices"]
    for row in sl.itertuples(index=False):
        if isinstance(row.mark, str) and row.mark:
            marks[(row.slicer, row.slice)] = row.mark
    for row in tables["members"].itertuples(index=False):
        t = tags.setdefault(str(row.id), [])
        t.append(f"slice:{row.slicer}:{row.slice}")
        mark = marks.get((row.slicer, row.slice))
        if mark and f"mark:{mark}" not in t:
            t.append(f"mark:{mark}")
    return tags


def write_fiftyone(run: Run, folder, tables: dict) -> list[Path]:
    """Write the FiftyOne folder for ``run``; returns the files written (images excluded)."""
    from PIL import Image

    from slicelens.api.frames import image_paths

    folder = Path(folder)
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    s = run.samples
    ids = s["id"].astype(str).to_numpy()
    paths = image_paths(run).reindex(ids).to_numpy()
    dataset = None
    uuids = [f"{i:06d}" for i in range(len(ids))]
    from slicelens.utils import progress

    pairs = progress(list(zip(uuids, paths, strict=True)), desc="fiftyone images", unit="img")
    for i, (uuid, path) in enumerate(pairs):
        if isinstance(path, str) and Path(path).is_file():
            shutil.copyfile(path, data / f"{uuid}{Path(path).suffix.lower() or '.png'}")
            continue
        if dataset is None:
            dataset = run.dataset()  # in-memory images saved with the run
        img = dataset.load_uint8(dataset.index_of([ids[i]]))[0]
        Image.fromarray(np.asarray(img)).save(data / f"{uuid}.png")
    labels = s["label"].to_numpy()
    preds = s["pred"].to_numpy()
    tags = sample_tags(run, tables)
    out = {
        "labels.json": {"classes": run.classes,
                        "labels": {u: (int(v) if v >= 0 else None)
                                   for u, v in zip(uuids, labels, strict=True)}},
        "predictions.json": {"classes": run.classes,
                             "labels": {u: int(v) for u, v in zip(uuids, preds, strict=True)}},
        "tags.json": {u: tags.get(i, []) for u, i in zip(uuids, ids, strict=True)},
        "ids.json": dict(zip(uuids, ids.tolist(), strict=True)),
    }
    written = []
    for name, obj in out.items():
        (folder / name).write_text(json.dumps(obj, indent=1))
        written.append(folder / name)
    (folder / "load_fiftyone.py").write_text(LOADER.replace("{name}", f"slicelens-{run.id}"))
    written.append(folder / "load_fiftyone.py")
    return written
