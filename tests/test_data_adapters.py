"""Data adapters: manifests, folders, arrays, images; every error names file/row/field."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from slicelens.data import BadInputReport, from_arrays, load_dataset, load_folder, load_manifest
from slicelens.data.images import decode_rgb, resize_rgb
from slicelens.errors import DataError


def _png(path, value=100, mode="RGB", size=8):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.full((size, size, 3) if mode in ("RGB", "RGBA") else (size, size), value, np.uint8)
    if mode == "RGBA":
        arr = np.concatenate([arr, np.full((size, size, 1), 255, np.uint8)], axis=-1)
    Image.fromarray(arr).convert(mode).save(path)
    return path


def _manifest(tmp_path, rows, name="m.csv", images=True):
    df = pd.DataFrame(rows)
    if images:
        for p in df["path"]:
            if p and not (tmp_path / p).exists():
                _png(tmp_path / p)
    df.to_csv(tmp_path / name, index=False)
    return tmp_path / name


def _rows(n=4):
    return {"path": [f"img/{i}.png" for i in range(n)],
            "label": ["cat", "dog"] * (n // 2), "split": ["train", "test"] * (n // 2),
            "colour": ["red"] * n}


# -- images --------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "RGB"])
def test_decode_rgb_converts_modes(tmp_path, mode):
    img = decode_rgb(_png(tmp_path / "a.png", mode=mode))
    assert img.shape == (8, 8, 3) and img.dtype == np.uint8


def test_decode_rgb_errors_name_the_file(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not an image")
    for p in (tmp_path / "bad.png", tmp_path / "missing.png"):
        with pytest.raises(DataError) as e:
            decode_rgb(p)
        assert str(p) in str(e.value) and e.value.file == str(p)


def test_resize_rgb_shape():
    out = resize_rgb(np.zeros((10, 7, 3), np.uint8), 5)
    assert out.shape == (5, 5, 3) and out.dtype == np.uint8


# -- manifest ------------------------------------------------------------------------
def test_manifest_loads_columns_metadata_and_paths(tmp_path):
    ds = load_manifest(_manifest(tmp_path, _rows()))
    assert ds.classes == ["cat", "dog"]
    assert ds.labels.tolist() == [0, 1, 0, 1]
    assert ds.ids.tolist() == [f"img/{i}.png" for i in range(4)]
    assert ds.metadata.columns.tolist() == ["colour"]
    assert ds.load_uint8([0]).shape == (1, 8, 8, 3)
    assert len(ds.bad_inputs) == 0


def test_manifest_without_split_is_test_and_empty_label_is_unlabeled(tmp_path):
    rows = {"path": ["a.png", "b.png"], "label": ["x", ""], "id": ["s1", "s2"]}
    ds = load_manifest(_manifest(tmp_path, rows))
    assert ds.splits.tolist() == ["test", "test"]
    assert ds.labels.tolist() == [0, -1] and ds.ids.tolist() == ["s1", "s2"]


def test_parquet_manifest_with_int_labels(tmp_path):
    m = _manifest(tmp_path, _rows())
    df = pd.read_csv(m)
    df["label"] = [3, 10, 3, 10]
    df.to_parquet(tmp_path / "m.parquet")
    ds = load_dataset(tmp_path / "m.parquet")
    assert ds.classes == ["10", "3"] and ds.labels.tolist() == [1, 0, 1, 0]


def test_classes_file_sets_order(tmp_path):
    (tmp_path / "classes.txt").write_text("dog\ncat\n")
    ds = load_manifest(_manifest(tmp_path, _rows()), classes=tmp_path / "classes.txt")
    assert ds.classes == ["dog", "cat"] and ds.labels.tolist() == [1, 0, 1, 0]


def test_classes_mismatch_and_empty_class(tmp_path):
    m = _manifest(tmp_path, _rows())
    with pytest.raises(DataError) as e:
        load_manifest(m, classes=["cat"])
    assert "row 3" in str(e.value) and "field 'label'" in str(e.value) and "'dog'" in str(e.value)
    (tmp_path / "classes.txt").write_text("cat\ndog\nbird\n")
    with pytest.raises(DataError) as e:
        load_manifest(m, classes=tmp_path / "classes.txt")
    assert "class 'bird' has no samples" in str(e.value) and "classes.txt" in str(e.value)


def test_missing_label_column(tmp_path):
    m = _manifest(tmp_path, {"path": ["a.png"], "split": ["train"]})
    with pytest.raises(DataError) as e:
        load_manifest(m)
    assert e.value.field == "label" and str(m) in str(e.value)


@pytest.mark.parametrize("column,value,field,reason", [
    ("split", "holdout", "split", "unknown split 'holdout'"),
    ("path", "img/missing.png", "path", "image file not found"),
])
def test_row_errors_name_row_and_field(tmp_path, column, value, field, reason):
    rows = _rows()
    m = _manifest(tmp_path, rows)
    rows[column][2] = value
    pd.DataFrame(rows).to_csv(m, index=False)
    with pytest.raises(DataError) as e:
        load_manifest(m)
    msg = str(e.value)
    assert f"row 4, field '{field}'" in msg and reason in msg and str(m) in msg
    assert (e.value.row, e.value.field) == (4, field)


def test_corrupt_image_and_duplicate_id(tmp_path):
    rows = _rows()
    m = _manifest(tmp_path, rows)
    (tmp_path / "img/1.png").write_bytes(b"\x89PNG garbage")
    rows["path"][3] = rows["path"][0]
    pd.DataFrame(rows).to_csv(m, index=False)
    with pytest.raises(DataError) as e:
        load_manifest(m)
    msg = str(e.value)
    assert msg.startswith("2 problems")
    assert "row 3, field 'path', img/1.png: corrupt" in msg
    assert "row 5, field 'path': id 'img/0.png' already used in row 2" in msg


def test_all_problems_collected_first_five_listed(tmp_path):
    rows = _rows(8)
    rows["split"] = ["nowhere"] * 8
    with pytest.raises(DataError) as e:
        load_manifest(_manifest(tmp_path, rows))
    assert str(e.value).startswith("8 problems") and "and 3 more" in str(e.value)
    assert len(e.value.problems) == 8


def test_skip_bad_drops_bad_images_and_reports(tmp_path):
    rows = _rows()
    rows["path"][1] = "img/missing.png"
    m = _manifest(tmp_path, rows, images=False)
    for p in ("img/0.png", "img/3.png"):
        _png(tmp_path / p)
    (tmp_path / "img/2.png").write_bytes(b"junk")
    ds = load_dataset(m, skip_bad=True)
    assert ds.ids.tolist() == ["img/0.png", "img/3.png"]
    assert isinstance(ds.bad_inputs, BadInputReport) and len(ds.bad_inputs) == 2
    assert [r[:2] for r in ds.bad_inputs.rows] == [(3, "img/missing.png"), (4, "img/2.png")]
    text = ds.bad_inputs.to_csv(tmp_path / "bad.csv")
    assert pd.read_csv(tmp_path / "bad.csv").columns.tolist() == ["row", "path", "reason"]
    assert "image file not found" in text
    assert len(ds.subset([0]).bad_inputs) == 2


def test_skip_bad_never_skips_structural_problems(tmp_path):
    rows = _rows()
    rows["split"][0] = "later"
    with pytest.raises(DataError, match="unknown split"):
        load_manifest(_manifest(tmp_path, rows), skip_bad=True)


def test_skip_bad_that_empties_a_class_is_an_error(tmp_path):
    m = _manifest(tmp_path, _rows(2))
    (tmp_path / "img/1.png").write_bytes(b"junk")
    assert load_manifest(m, skip_bad=True).labels.tolist() == [0]  # classes from all rows
    with pytest.raises(DataError, match="class 'dog' has no samples"):
        load_manifest(m, skip_bad=True, classes=["cat", "dog"])


def test_unreadable_or_unknown_sources(tmp_path):
    with pytest.raises(DataError, match="manifest not found"):
        load_dataset(tmp_path / "nope.csv")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(DataError, match="unsupported data source"):
        load_dataset(tmp_path / "x.json")
    with pytest.raises(DataError, match="not found"):
        load_dataset(tmp_path / "nothing")


def test_manifest_validates_5000_images_quickly(tmp_path):
    import time

    _png(tmp_path / "one.png")
    for i in range(5000):
        (tmp_path / f"{i}.png").write_bytes((tmp_path / "one.png").read_bytes())
    m = _manifest(tmp_path, {"path": [f"{i}.png" for i in range(5000)], "label": ["a"] * 5000})
    t = time.perf_counter()
    assert len(load_manifest(m)) == 5000
    assert time.perf_counter() - t < 10


# -- folder --------------------------------------------------------------------------
def test_folder_class_layout(tmp_path):
    for p in ("cat/1.png", "cat/2.jpg", "dog/sub/3.png"):
        _png(tmp_path / p) if p.endswith("png") else Image.new("RGB", (4, 4)).save(tmp_path / p)
    (tmp_path / "cat" / "notes.txt").write_text("ignored")
    ds = load_dataset(tmp_path)
    # no split folders: a stratified half of each class is 'val' (one image stays 'test')
    assert ds.classes == ["cat", "dog"] and sorted(ds.splits[:2]) == ["test", "val"]
    assert ds.splits[2] == "test" and "no split folders" in ds.notes[0]
    assert ds.ids.tolist() == ["cat/1.png", "cat/2.jpg", "dog/sub/3.png"]
    assert ds.labels.tolist() == [0, 0, 1]


def test_folder_without_splits_gets_a_reproducible_stratified_val_split(tmp_path):
    for c, n in (("a", 10), ("b", 7), ("c", 4)):
        for i in range(n):
            _png(tmp_path / c / f"{i}.png")
    ds = load_dataset(tmp_path)
    val = ds.splits == "val"
    assert [int(val[ds.labels == k].sum()) for k in range(3)] == [5, 4, 2]  # round(n / 2)
    again = load_dataset(tmp_path)
    assert again.splits.tolist() == ds.splits.tolist()
    # fixed by the ids, not by position: reversed ids give the same split per id
    from slicelens.data.folder import stratified_split
    rev = stratified_split(ds.ids[::-1], ds.labels[::-1])
    assert rev[::-1].tolist() == ds.splits.tolist()
    assert "11 images" in ds.notes[0] and "'val'" in ds.notes[0]


def test_folder_split_layout_with_unlabeled_pool(tmp_path):
    for p in ("train/a/1.png", "train/b/2.png", "test/a/3.png", "pool/4.png"):
        _png(tmp_path / p)
    ds = load_folder(tmp_path, classes=["b", "a"])
    assert dict(zip(ds.ids, ds.splits, strict=True))["pool/4.png"] == "pool"
    assert dict(zip(ds.ids, ds.labels, strict=True)) == {
        "pool/4.png": -1, "test/a/3.png": 1, "train/a/1.png": 1, "train/b/2.png": 0}


def test_folder_errors(tmp_path):
    for p in ("train/a/1.png", "test/b/2.png"):
        _png(tmp_path / p)
    (tmp_path / "test/b/2.png").write_bytes(b"junk")
    with pytest.raises(DataError) as e:
        load_folder(tmp_path, classes=["a", "b", "c"])
    msg = str(e.value)
    assert "test/b/2.png: corrupt" in msg and "class 'c' has no samples" in msg
    ds = load_folder(tmp_path, skip_bad=True)
    assert ds.ids.tolist() == ["train/a/1.png"] and ds.bad_inputs.rows[0][:2] == (None, "test/b/2.png")
    with pytest.raises(DataError, match="class folder 'b' is not one of the classes"):
        load_folder(tmp_path, classes=["a"])
    _png(tmp_path / "zebra" / "5.png")
    with pytest.raises(DataError, match="mixes split folders"):
        load_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images found"):
        load_folder(tmp_path / "empty")


# -- arrays --------------------------------------------------------------------------
def test_from_arrays_converts_float_and_grayscale():
    ds = from_arrays(np.ones((3, 4, 4)) * 0.5, [0, 1, -1], ["a", "b"], splits="train")
    assert ds.arrays.shape == (3, 4, 4, 3) and ds.arrays.dtype == np.uint8
    assert ds.arrays[0, 0, 0, 0] == 128 and ds.ids.tolist() == ["i0", "i1", "i2"]
    assert ds.load([0, 1], size=2).shape == (2, 3, 2, 2)


@pytest.mark.parametrize("images,labels,field", [
    (np.zeros((2, 3, 4, 4), np.uint8), [0, 1], "images"),
    (np.full((2, 4, 4, 3), 2.0), [0, 1], "images"),
    (np.zeros((2, 4, 4, 3), np.uint8), [0], "labels"),
])
def test_from_arrays_rejects_bad_input(images, labels, field):
    with pytest.raises(DataError) as e:
        from_arrays(images, labels, ["a", "b"])
    assert e.value.field == field


# -- silent wrong results (issue 11, item 6) ------------------------------------------
def test_16_bit_png_is_scaled_not_white(tmp_path):
    ramp = (np.arange(64, dtype=np.uint16) * 1040).reshape(8, 8)  # 0 .. 65520
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    img = decode_rgb(tmp_path / "g16.png")
    assert img.shape == (8, 8, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img[..., 0], np.rint(ramp / 257.0).astype(np.uint8))
    assert img.min() == 0 and img.max() == 255


def _undecodable_png(path):
    """A PNG whose chunks and CRCs are valid (passes verify()) but whose IDAT data is not
    a zlib stream, so decoding fails."""
    import struct
    import zlib

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    head = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head)
                     + chunk(b"IDAT", b"\x00garbage, not zlib" * 4) + chunk(b"IEND", b""))
    with Image.open(path) as im:
        im.verify()  # passes: the point of the fixture
    return path


def test_image_that_passes_verify_but_does_not_decode(tmp_path):
    _undecodable_png(tmp_path / "img" / "1.png")
    m = _manifest(tmp_path, _rows())
    with pytest.raises(DataError) as e:
        load_manifest(m)
    assert "img/1.png" in str(e.value) and e.value.row == 3 and e.value.field == "path"
    ds = load_manifest(m, skip_bad=True)
    assert ds.ids.tolist() == ["img/0.png", "img/2.png", "img/3.png"]
    assert [r[1] for r in ds.bad_inputs.rows] == ["img/1.png"]
    assert ds.load_uint8([0, 1, 2]).shape == (3, 8, 8, 3)  # the rest decodes


def test_manifest_with_an_empty_label_column_is_an_error(tmp_path):
    rows = {"path": ["img/0.png", "img/1.png"], "label": ["", ""]}
    with pytest.raises(DataError) as e:
        load_manifest(_manifest(tmp_path, rows))
    assert e.value.field == "label" and "m.csv" in str(e.value) and "empty" in str(e.value)
    # unlabelled images in the pool split are fine
    rows = {**rows, "split": ["pool", "pool"]}
    assert load_manifest(_manifest(tmp_path, rows, name="p.csv")).labels.tolist() == [-1, -1]
