"""Benchmark: attribute-combination slicing in O(D) (HiBug Sec. 4.4).

Times :func:`slicelens.slicing.slicer_attributes.combination_counts` on

- 1M rows x 6 attributes: the full combination (HiBug's setting) and every subset of
  1-2 attributes plus the full one (the slicer's default, 22 passes);
- the paper's setting: 20k images, 4,536 combinations (values 3x3x4x6x7x3).

Each time is reported as a ratio to a reference measured in the same run on the same
rows: one ``np.bincount`` pass over 1M (or 20k) random integer keys. Absolute seconds are
printed beside it for context. Writes benchmarks/results/attribute_slicing.json and .png.

Run: .venv/bin/python benchmarks/attribute_slicing.py
"""

from __future__ import annotations

import json
import time
from itertools import combinations
from pathlib import Path

import numpy as np

from slicelens.slicing.slicer_attributes import combination_counts

OUT = Path(__file__).parent / "results"


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def case(name: str, n: int, n_values: list[int], subsets_kind: str, rng) -> dict:
    codes = np.stack([rng.integers(0, k, n) for k in n_values], 1)
    correct = rng.random(n) < 0.8
    m = len(n_values)
    full = [tuple(range(m))]
    subsets = full if subsets_kind == "full" else \
        [s for k in (1, 2) for s in combinations(range(m), k)] + full
    keys = rng.integers(0, int(np.prod(n_values)), n)
    ref = best_of(lambda: np.bincount(keys, weights=correct))
    t = best_of(lambda: combination_counts(codes, correct, subsets, n_values))
    groups = combination_counts(codes, correct, full, n_values)
    return {"case": name, "rows": n, "attributes": m, "passes": len(subsets),
            "combinations_present": len(groups), "seconds": t, "reference_seconds": ref,
            "ratio_to_bincount": t / ref}


def main() -> None:
    rng = np.random.default_rng(0)
    rows = [case("1M x 6, full combination", 1_000_000, [3, 4, 5, 3, 6, 4], "full", rng),
            case("1M x 6, orders 1-2 + full", 1_000_000, [3, 4, 5, 3, 6, 4], "all", rng),
            case("paper: 20k, 4,536 combinations", 20_000, [3, 3, 4, 6, 7, 3], "full", rng)]
    print(f"{'case':<34}{'passes':>7}{'combos':>8}{'seconds':>10}{'bincount s':>12}{'ratio':>8}")
    for r in rows:
        print(f"{r['case']:<34}{r['passes']:>7}{r['combinations_present']:>8}{r['seconds']:>10.3f}"
              f"{r['reference_seconds']:>12.4f}{r['ratio_to_bincount']:>8.1f}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "attribute_slicing.json").write_text(json.dumps(rows, indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    ax.barh([r["case"] for r in rows], [r["ratio_to_bincount"] for r in rows])
    ax.set_xlabel("time / one np.bincount pass over the same rows")
    ax.set_title("attribute-combination slicing (O(D))")
    fig.tight_layout()
    fig.savefig(OUT / "attribute_slicing.png", dpi=120)


if __name__ == "__main__":
    main()
