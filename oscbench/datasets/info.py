"""Summaries of dataset files (``oscbench datasets info``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from oscbench.datasets.format import DatasetFile


def dataset_info(path: str | Path, *, verify: bool = True) -> dict[str, Any]:
    """Id, parameters, length, features, digest status, size on disk and return statistics of a file."""
    path = Path(path)
    with DatasetFile(path, verify=False) as ds:
        status = "not checked"
        if verify:
            ds.verify()  # raises DataError naming the problem
            status = "ok"
        stats: dict[str, Any] = {}
        for name in ("returns", "returns_truncated", "cumulants"):
            if name not in ds.step_arrays:
                continue
            s = n = 0.0
            ss = 0.0
            lo, hi = np.inf, -np.inf
            for a in range(0, ds.n_steps, 1 << 20):
                v = ds.array(name, a, a + (1 << 20)).astype(np.float64)
                s += v.sum()
                ss += np.square(v).sum()
                n += len(v)
                lo, hi = min(lo, v.min()), max(hi, v.max())
            mean = s / n
            stats[name] = {"mean": mean, "var": max(ss / n - mean * mean, 0.0), "min": lo, "max": hi}
        return {
            "path": str(path), "dataset_id": ds.dataset_id, "kind": ds.kind, "generator": ds.generator,
            "params": ds.params, "seed": ds.seed, "gamma": ds.gamma, "n_steps": ds.n_steps,
            "n_features": ds.n_features, "arrays": ds.step_arrays, "content_sha256": ds.content_sha256,
            "digest_status": status, "size_bytes": path.stat().st_size, "versions": ds.versions,
            "statistics": stats,
        }


def format_info(info: dict[str, Any]) -> str:
    """Human-readable text of :func:`dataset_info`."""
    lines = [
        f"id          {info['dataset_id']}   (kind {info['kind']})",
        f"file        {info['path']}   {info['size_bytes'] / 1e6:.2f} MB",
        f"steps       {info['n_steps']:,}   features {info['n_features']}   gamma {info['gamma']}   seed {info['seed']}",
        "params      " + ", ".join(f"{k}={v}" for k, v in info["params"].items()),
        f"digest      {info['content_sha256'][:16]}…  {info['digest_status']}",
        "versions    " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()),
    ]
    for name, st in info["statistics"].items():
        lines.append(f"{name:<18}mean {st['mean']:.5g}  var {st['var']:.5g}  min {st['min']:.5g}  max {st['max']:.5g}")
    return "\n".join(lines)
