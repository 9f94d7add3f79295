"""Calibrate on your own photos: which hash method and threshold suit them, measured on edited copies.

:func:`calibrate` picks distinct photos from a folder, writes a benchmark of
edited copies of them (:func:`dedupkit.make_benchmark`), hashes it with each
method with and without border trimming, and scores each against the truth:
the threshold with the most pairwise recall at a measured precision of at least
``min_precision``, the best-F1 threshold, and the share of copies found by kind
of edit. A hash-only threshold is recommended only where that precision is
reached; otherwise the recommendation is to verify the pairs
(:func:`dedupkit.find_duplicates`). Notebook 4, ``dedupkit calibrate DIR`` and
``benchmarks/accuracy.py`` all go through these functions.

>>> result = calibrate("photos/", "out", max_photos=30)  # doctest: +SKIP
>>> result.table  # doctest: +SKIP
>>> result.recommendation  # doctest: +SKIP
{'mode': 'hash', 'method': 'dhash', 'trim': True, 'threshold': 14, ...}
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ._checks import check_int, check_real
from .edits import edit_table, make_benchmark
from .evaluate import precision_recall, recall_by_edit, recommend_threshold
from .groups import find_groups
from .hashing import check_method
from .scan import hash_images
from .search import find_pairs
from .tables import hash_settings

__all__ = [
    "CALIBRATION_FILE",
    "Calibration",
    "calibrate",
    "calibration_photos",
    "curve_summary",
    "recommend",
    "score_hashing",
    "threshold_at_precision",
]

#: The file :func:`calibrate` writes its result to, in ``output_dir``.
CALIBRATION_FILE = "calibration.json"
#: The folder of the benchmark :func:`calibrate` writes, in ``output_dir``.
BENCHMARK_DIR = "calibration"
#: Pairwise precision a hash threshold must reach to be recommended: one false pair in 200.
MIN_PRECISION = 0.995


class Calibration(NamedTuple):
    """What :func:`calibrate` measured.

    Attributes
    ----------
    truth
        The benchmark's truth table (``file``, ``group``, ``edit``).
    bench_dir
        The benchmark folder.
    results
        Per hashing label (``"dhash"``, ``"dhash +trim"``, ...): ``method``,
        ``trim``, ``pairs`` (every pair up to half the bits), ``curve``
        (:func:`dedupkit.precision_recall`) and ``threshold`` (at
        ``min_precision``, or ``None``).
    table
        One row per label: ``threshold``, ``precision``, ``recall``,
        ``best_f1_threshold``, ``best_f1``.
    by_family, by_category
        The share of edited copies found at each label's threshold, by
        ``(category, family)`` and by category of edit (columns: the labels
        that have a threshold).
    recommendation
        :func:`recommend`'s answer.
    """

    truth: pd.DataFrame
    bench_dir: Path
    results: dict[str, dict]
    table: pd.DataFrame
    by_family: pd.DataFrame
    by_category: pd.DataFrame
    recommendation: dict


def calibration_photos(hashes: pd.DataFrame) -> list[str]:
    """The readable files of a hash table, one of each group of near-copies (within a fifth of the bits).

    Two copies of one picture taken as different photos would count as false
    matches in a benchmark; this keeps the first (by :func:`dedupkit.find_groups`'
    rule) of each.
    """
    readable = hashes[hashes["hash"].notna()]
    if "error" in readable.columns:
        readable = readable[readable["error"].isna()]
    if readable.empty:
        return []
    n_bits = len(str(readable["hash"].iloc[0])) * 4
    near = find_pairs(readable, max_distance=n_bits // 5)
    copies = set(find_groups(near, readable).query("not keep")["path"])
    return [path for path in readable["path"].astype(str) if path not in copies]


def threshold_at_precision(curve: pd.DataFrame, min_precision: float, *, fallback: bool = False) -> int | None:
    """The threshold with the most recall at a precision of at least ``min_precision``.

    Parameters
    ----------
    curve
        A table from :func:`dedupkit.precision_recall`.
    min_precision
        In ``(0, 1]``.
    fallback
        When no threshold reaches ``min_precision``: ``False`` gives ``None``,
        ``True`` the threshold with the most recall at the best precision any
        threshold reaches.

    Returns
    -------
    int or None
    """
    min_precision = check_real(min_precision, "min_precision", low=0, high=1, low_open=True)
    if (curve["precision"].to_numpy(float) >= min_precision - 1e-12).any():
        return recommend_threshold(curve, min_precision=min_precision)
    if not fallback or curve["precision"].isna().all():
        return None
    return recommend_threshold(curve, min_precision=float(np.nanmax(curve["precision"].to_numpy(float))))


def curve_summary(curve: pd.DataFrame, *, min_precision: float = MIN_PRECISION) -> dict:
    """The numbers of one curve: ``threshold`` at ``min_precision`` (or ``None``), its ``precision`` and
    ``recall``, and the ``best_f1_threshold`` with its ``best_f1``."""
    at = curve.set_index("threshold")
    threshold = threshold_at_precision(curve, min_precision)
    best_f1 = recommend_threshold(curve) if curve["f1"].notna().any() else None
    return {
        "threshold": threshold,
        "precision": None if threshold is None else float(at.loc[threshold, "precision"]),
        "recall": None if threshold is None else float(at.loc[threshold, "recall"]),
        "best_f1_threshold": best_f1,
        "best_f1": None if best_f1 is None else float(at.loc[best_f1, "f1"]),
    }


def score_hashing(
    bench_dir: str | os.PathLike, truth: pd.DataFrame, *, method: str = "dhash", trim: bool = True,
    workers: int | None = None,
) -> dict:
    """Hash a benchmark folder one way and score it against its truth.

    Returns
    -------
    dict
        ``method``, ``trim``, ``hashes``, ``pairs`` (every pair up to half the
        bits, so that the curve reaches the distance of unrelated pictures) and
        ``curve`` (:func:`dedupkit.precision_recall` up to there).
    """
    hashes = hash_images(bench_dir, method=method, trim=trim, workers=workers, progress=False)
    n_bits = hash_settings(hashes)["hash_size"] ** 2
    pairs = find_pairs(hashes, max_distance=n_bits // 2, max_pairs=None)
    curve = precision_recall(pairs, truth, hashes=hashes, root=bench_dir, max_threshold=n_bits // 2)
    return {"method": method, "trim": trim, "hashes": hashes, "pairs": pairs, "curve": curve}


def _recall_by(by_edit: Mapping[str, pd.DataFrame], column: str | list[str]) -> pd.DataFrame:
    return pd.DataFrame({
        label: table.groupby(column, sort=False)["found"].sum() / table.groupby(column, sort=False)["copies"].sum()
        for label, table in by_edit.items()
    })


def recommend(table: pd.DataFrame, results: Mapping[str, Mapping], *, min_precision: float = MIN_PRECISION) -> dict:
    """The hashing with the most recall at ``min_precision`` (the first listed on a tie), or verification.

    Returns
    -------
    dict
        ``mode`` (``"hash"``, or ``"verify"`` when no hashing reaches
        ``min_precision``), ``method``, ``trim``, ``threshold``,
        ``precision``, ``recall`` (``None`` with ``"verify"``) and
        ``min_precision``.
    """
    reaching = table.dropna(subset=["threshold"])
    if not len(reaching):
        return {"mode": "verify", "method": None, "trim": None, "threshold": None, "precision": None,
                "recall": None, "min_precision": min_precision}
    best = reaching["recall"].astype(float).idxmax()
    return {"mode": "hash", "method": results[best]["method"], "trim": bool(results[best]["trim"]),
            "threshold": int(table.loc[best, "threshold"]), "precision": float(table.loc[best, "precision"]),
            "recall": float(table.loc[best, "recall"]), "min_precision": min_precision}


def calibrate(
    source: str | os.PathLike | Iterable[str | os.PathLike],
    output_dir: str | os.PathLike = "out",
    *,
    methods: Sequence[str] = ("dhash", "phash"),
    trims: Sequence[bool] = (False, True),
    max_photos: int | None = 8,
    min_precision: float = MIN_PRECISION,
    seed: int = 0,
    workers: int | None = None,
    image_dir: str | os.PathLike | None = None,
) -> Calibration:
    """Measure each hash method on edited copies of your own photos and recommend one, or verification.

    Parameters
    ----------
    source
        A folder of photos, or a list of files (e.g. :func:`calibration_photos`
        of a hash table, so that copies of one picture are not taken as two
        photos; a folder is used as it is).
    output_dir
        The benchmark goes to ``output_dir/calibration/`` (its files are
        replaced), the result to ``output_dir/calibration.json``.
    methods
        Hash methods to compare (see :data:`dedupkit.METHODS`).
    trims
        Each method is scored with each of these ``trim`` settings.
    max_photos
        Photos picked at random (with ``seed``); each gives one copy per edit
        of :data:`dedupkit.edits.DEFAULT_EDITS`. ``None``: all.
    min_precision
        A hash threshold is recommended only at this measured pairwise
        precision, in ``(0, 1]``.
    seed
        Seed of the photo sample, the distractors and every random edit.
    workers
        Processes for hashing (``None``: all cores).
    image_dir
        The folder the photos came from, recorded in ``calibration.json``
        (default: ``source`` when it is a folder).

    Returns
    -------
    Calibration

    Raises
    ------
    ValueError
        An unknown method, no readable photo, or an option out of range.

    Notes
    -----
    A few photos give few non-duplicate pairs, so the precision measured is
    optimistic: treat the threshold as an upper bound and use more photos for
    a firmer number.
    """
    for method in methods:
        check_method(method, 8)
    if not methods or not trims:
        raise ValueError("give at least one method and one trim setting")
    max_photos = check_int(max_photos, "max_photos", low=1, none=True)
    min_precision = check_real(min_precision, "min_precision", low=0, high=1, low_open=True)
    output_dir = Path(output_dir)
    bench_dir = output_dir / BENCHMARK_DIR
    truth = make_benchmark(source, bench_dir, max_photos=max_photos, seed=seed)
    results = {}
    for method in methods:
        for trim in trims:
            result = score_hashing(bench_dir, truth, method=method, trim=bool(trim), workers=workers)
            del result["hashes"]
            results[method + (" +trim" if trim else "")] = result
    rows = {}
    for label, result in results.items():
        rows[label] = curve_summary(result["curve"], min_precision=min_precision)
        result["threshold"] = rows[label]["threshold"]
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("method")
    table = table.astype({"threshold": "Int64", "precision": float, "recall": float,
                          "best_f1_threshold": "Int64", "best_f1": float})
    edits = edit_table().set_index("edit")[["family", "category"]]
    by_edit = {label: recall_by_edit(r["pairs"], truth, r["threshold"], root=bench_dir).join(edits)
               for label, r in results.items() if r["threshold"] is not None}
    recommendation = recommend(table, results, min_precision=min_precision)
    calibration = Calibration(truth, bench_dir, results, table, _recall_by(by_edit, ["category", "family"]),
                              _recall_by(by_edit, "category"), recommendation)
    if image_dir is None and isinstance(source, (str, os.PathLike)):
        image_dir = source
    _save(calibration, output_dir / CALIBRATION_FILE, image_dir=image_dir, seed=seed)
    return calibration


def _save(calibration: Calibration, path: Path, *, image_dir: str | os.PathLike | None, seed: int) -> None:
    table = calibration.table.astype(object).where(calibration.table.notna(), None)
    record = {
        "image_dir": None if image_dir is None else str(Path(image_dir).resolve()),
        "photos": int(calibration.truth["group"].nunique()),
        "files": len(calibration.truth),
        "seed": seed,
        "recommended": calibration.recommendation,
        "methods": table.rename_axis("label").reset_index().to_dict("records"),
        "recall_by_category": calibration.by_category.to_dict(),
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, default=_plain) + "\n")
    os.replace(tmp, path)


def _plain(value: object) -> object:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
