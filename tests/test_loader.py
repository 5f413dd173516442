"""The shared data pipeline: decoding in worker processes gives the same images, in the
same order, as decoding in-process; decode errors still name the file; extraction with
workers, after a resume with another worker count, and in bf16 stays the same run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from test_extract import CLASSES, PooledNet

from slicelens.data import load_dataset
from slicelens.data.loader import BatchLoader, batches, load_images, resolve_workers
from slicelens.errors import DataError
from slicelens.extract import ExtractConfig, extract
from slicelens.models.adapter import ModelAdapter


def _folder_dataset(tmp_path, n=24, size=20):
    rng = np.random.default_rng(0)
    (tmp_path / "img").mkdir()
    rows = []
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size + i % 3, 3), dtype=np.uint8)).save(
            tmp_path / "img" / f"{i}.png")
        rows.append((f"img/{i}.png", CLASSES[i % 3], "val" if i % 2 else "test"))
    pd.DataFrame(rows, columns=["path", "label", "split"]).to_csv(tmp_path / "m.csv", index=False)
    return load_dataset(tmp_path / "m.csv")


def test_workers_give_the_same_batches_in_order(tmp_path):
    ds = _folder_dataset(tmp_path)
    index = batches(len(ds), 5)[::-1]  # any order is kept
    inproc = [(x, rows) for x, rows in BatchLoader(ds, index, size=16, workers=0)]
    pooled = [(x, rows) for x, rows in BatchLoader(ds, index, size=16, workers=2)]
    assert [r.tolist() for _, r in pooled] == [i.tolist() for i in index]
    for (a, _), (b, _) in zip(inproc, pooled, strict=True):
        assert a.dtype == torch.float32 and a.shape[1:] == (3, 16, 16)
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(load_images(ds, np.arange(len(ds)), 16, workers=2),
                               ds.load(np.arange(len(ds)), 16), rtol=0, atol=0)


def test_a_decode_error_in_a_worker_names_the_file(tmp_path):
    ds = _folder_dataset(tmp_path, n=6)
    (tmp_path / "img" / "3.png").write_bytes(b"\x89PNG\r\n\x1a\n broken after loading")
    with pytest.raises(DataError) as e:
        list(BatchLoader(ds, batches(len(ds), 2), size=16, workers=2))
    assert e.value.file.endswith("img/3.png") and str(e.value).count("(file ") == 1


def test_default_workers_and_validation(tmp_path):
    ds = _folder_dataset(tmp_path, n=3)
    assert resolve_workers(ds, 3) == 3 and resolve_workers(ds, None) >= 0
    with pytest.raises(DataError, match="workers"):
        resolve_workers(ds, -1)


def _extract(ds, run_dir, **cfg):
    torch.manual_seed(0)
    ad = ModelAdapter(PooledNet(), CLASSES, input_size=16)
    return extract(ds, ad, run_dir, ExtractConfig(batch_size=4, chunk_size=8, **cfg),
                   data_spec={"source": "m.csv"}, model_spec={"spec": "test:PooledNet"})


def test_extraction_with_workers_equals_in_process_and_resumes_with_other_workers(tmp_path):
    ds = _folder_dataset(tmp_path)
    plain = _extract(ds, tmp_path / "w0", workers=0)
    pooled = _extract(ds, tmp_path / "w2", workers=2)
    for name in ("logits", "features", "fw", "maps"):
        np.testing.assert_array_equal(plain.array(name), pooled.array(name))
    # an interrupted run resumes with another number of workers (it changes nothing)
    rec = (tmp_path / "w2" / "record.json")
    rec.write_text(rec.read_text().replace('"complete"', '"running"'))
    assert _extract(ds, tmp_path / "w2", workers=1).record["status"] == "complete"


def test_bf16_extraction_stores_float32_close_to_fp32(tmp_path):
    ds = _folder_dataset(tmp_path)
    fp32 = _extract(ds, tmp_path / "fp32", workers=0)
    bf16 = _extract(ds, tmp_path / "bf16", workers=0, precision="bf16")
    assert bf16.record["extract"]["precision"] == "bf16"
    assert bf16.array("logits").dtype == np.float32 and bf16.array("fw").dtype == np.float32
    np.testing.assert_allclose(bf16.array("probs"), fp32.array("probs"), atol=0.05)
    with pytest.raises(Exception, match="precision"):
        _extract(ds, tmp_path / "fp32", workers=0, precision="bf16")  # not a resume of fp32
