"""Image-folder adapter: ``root/<class>/<img>`` or ``root/<split>/<class>/<img>``."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from slicelens.data import images as _images
from slicelens.data.dataset import SPLITS, ImageDataset
from slicelens.data.manifest import (
    Problem,
    empty_class_problems,
    read_classes,
    resolve_problems,
)
from slicelens.errors import DataError

#: share of each class a plain ``root/<class>/`` folder puts in ``val`` (the rest is ``test``)
VAL_FRACTION = 0.5


def _image_files(folder: Path, recursive: bool) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.is_file() and p.suffix.lower() in _images.IMAGE_SUFFIXES
                  and not p.name.startswith("."))


def _subdirs(folder: Path) -> list[Path]:
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def _scan(root: Path) -> list[tuple[Path, str, str]]:
    """``(file, split, class name or "")`` for every image under ``root``."""
    dirs = _subdirs(root)
    split_dirs = [d.name for d in dirs if d.name in SPLITS]
    if split_dirs and len(split_dirs) < len(dirs):
        others = [d.name for d in dirs if d.name not in SPLITS]
        raise DataError(f"folder mixes split folders {split_dirs} with class folders "
                        f"{others[:5]}; use either <split>/<class>/ or <class>/",
                        file=str(root))
    entries = []
    if split_dirs:
        for d in dirs:
            entries += [(f, d.name, "") for f in _image_files(d, recursive=False)]
            for c in _subdirs(d):
                entries += [(f, d.name, c.name) for f in _image_files(c, recursive=True)]
    else:
        for c in dirs:
            entries += [(f, "", c.name) for f in _image_files(c, recursive=True)]
    return entries


def stratified_split(ids: np.ndarray, labels: np.ndarray, fraction: float = VAL_FRACTION) -> np.ndarray:
    """``"val"`` for ``round(fraction * n_c)`` samples of each class ``c``, else ``"test"``.

    Which samples is fixed by the SHA-1 of each id (not by file order or a random seed),
    so the same folder always gives the same split, on any machine. Classes with one
    image keep it in ``test``.

    Parameters
    ----------
    ids : ndarray of str, shape (n,)
    labels : ndarray of int, shape (n,)

    Returns
    -------
    ndarray of str, shape (n,)

    Examples
    --------
    >>> stratified_split(np.array(["a", "b", "c", "d"]), np.array([0, 0, 1, 1])).tolist().count("val")
    2
    """
    splits = np.full(len(ids), "test", dtype=object)
    keys = np.array([hashlib.sha1(i.encode()).hexdigest() for i in ids], dtype=str)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        k = int(round(fraction * len(members))) if len(members) > 1 else 0
        splits[members[np.argsort(keys[members], kind="stable")[:k]]] = "val"
    return splits.astype(str)


def load_folder(root: str | Path, *, classes: Sequence[str] | str | Path | None = None,
                skip_bad: bool = False) -> ImageDataset:
    """Load an image folder as an :class:`ImageDataset`.

    Two layouts are recognised: ``root/<class>/<img>`` (a reproducible stratified half
    of each class becomes ``"val"``, the rest ``"test"``, see :func:`stratified_split`;
    stated in ``dataset.notes``) and ``root/<split>/<class>/<img>`` with split one of train / val / test /
    pool. Images directly under ``root/<split>/`` are unlabeled (label ``-1``; useful for
    ``pool``). Ids are the paths relative to ``root`` (posix); files that are not images
    (by suffix) and hidden files are ignored.

    Parameters
    ----------
    root : path
        The folder.
    classes : list of str or path, optional
        Class names in output order, or a text file with one per line. Default: the
        sorted class folder names. A class folder not listed, or a listed class without
        images, is an error.
    skip_bad : bool
        Drop corrupt images and list them in ``dataset.bad_inputs`` instead of raising.

    Raises
    ------
    DataError
        Missing folder, no images, mixed layouts, unknown or empty class, corrupt image
        (all problems are collected and reported together).

    Examples
    --------
    >>> ds = load_folder("photos/")  # photos/cat/1.jpg, photos/dog/2.jpg  # doctest: +SKIP
    >>> ds.classes, ds.ids[0]  # doctest: +SKIP
    (['cat', 'dog'], 'cat/1.jpg')
    """
    root = Path(root)
    source = str(root)
    if not root.is_dir():
        raise DataError("image folder not found", file=source)
    entries = _scan(root)
    if not entries:
        raise DataError(f"no images found (suffixes {', '.join(_images.IMAGE_SUFFIXES)})",
                        file=source)
    names, classes_file = read_classes(classes)
    found = sorted({c for _, _, c in entries} - {""})
    names = found if names is None else names
    index = {c: i for i, c in enumerate(names)}
    problems = [Problem(f"class folder {c!r} is not one of the classes {names[:10]}",
                        file=c, field="label") for c in found if c not in index]
    files = [f for f, _, _ in entries]
    ids = np.array([f.relative_to(root).as_posix() for f in files], dtype=str)
    labels = np.array([index.get(c, -1) for _, _, c in entries], dtype=np.int64)
    bad = np.zeros(len(files), dtype=bool)
    for i, reason in enumerate(_images.check_images([str(f) for f in files])):
        if reason:
            problems.append(Problem(reason, file=str(ids[i]), field="path", bad_image=True))
            bad[i] = True
    if classes is not None:
        problems += empty_class_problems(names, labels[~bad] if skip_bad else labels,
                                         classes_file or source)
    report = resolve_problems(problems, source, skip_bad)
    keep = ~bad
    splits = np.array([s for _, s, _ in entries], dtype=str)[keep]
    notes: tuple[str, ...] = ()
    if not splits.size or not splits[0]:  # root/<class>/: no split folders
        splits = stratified_split(ids[keep], labels[keep])
        notes = (f"{source} has no split folders: {int((splits == 'val').sum())} images "
                 f"({VAL_FRACTION:.0%} of each class, fixed by a hash of the path) form the "
                 f"'val' split, {int((splits == 'test').sum())} the 'test' split",)
    return ImageDataset(ids=ids[keep], labels=labels[keep], classes=list(names), splits=splits,
                        paths=np.array([str(f.resolve()) for f in files], dtype=str)[keep],
                        source=source, bad_inputs=report, notes=notes)
