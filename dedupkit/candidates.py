"""Crop candidates: pairs of pictures that share many local descriptors.

Global hashes cannot reach a crop that keeps half of each side, a picture with
a caption bar or inside a screenshot, or a turn of a few degrees. Their ORB
descriptors (:mod:`dedupkit.features`) still match: every descriptor of every
image goes into one faiss binary index, each image's descriptors look up their
nearest neighbours, and pairs of images that many descriptors agree on are
proposed, strongest first, at most ``per_image`` per image. This only
proposes; :func:`dedupkit.verify.verify_pairs` decides.

A descriptor votes once for each other image among its near neighbours: those
within ``max_distance`` bits and within a few bits of its nearest match in
another image. A descriptor whose whole neighbour list ties (a plain corner,
text, an interface's chrome shared by a hundred screenshots) says nothing and
does not vote, so groups of lookalikes do not crowd out a picture's own copies.

The index is exact (``IndexBinaryFlat``) below 10,000 descriptors (about 20
images), else an ``IndexBinaryIVF`` whose centroids are descriptors drawn at
random (seeded; no training pass), ``nlist`` the power of two nearest
``sqrt(8 N)`` and ``nprobe`` 8: on 1,024 test images it proposed the crops,
frames and turns the exact index did, at 20 instead of 1,664 ms per image
(random centres, as FLANN uses for binary codes). Measured on the tune half
of bench-data (``benchmarks/bench_candidates.py``), with ``per_image=10, min_votes=5``: a
copy is proposed with its original for 89% of crops, 93% of frames, captions
and screenshots, 94% of turns and 89% of combined edits.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import faiss
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ._checks import check_int
from .features import DEFAULT_N_FEATURES, DEFAULT_SIDE, Features, extract_features, features_of_image
from .loading import ImageLoadError

__all__ = ["CANDIDATE_COLUMNS", "crop_candidates", "extract_all"]

logger = logging.getLogger(__name__)

#: The columns of :func:`crop_candidates`' table, in order.
CANDIDATE_COLUMNS = ("path_a", "path_b", "votes", "mirrored")

# --- rules (chosen on the tune half of bench-data: benchmarks/bench_candidates.py) -------------
RADIUS = 64  # a neighbour farther than this many bits (of 256) is no match
TIE = 10  # neighbours within this many bits of the nearest one count alike
NEIGHBOURS = 16  # nearest neighbours looked up per descriptor
FLAT_BELOW = 10_000  # descriptors; below this the index is exact (IndexBinaryFlat)
NPROBE = 8  # inverted lists visited per query by the IVF index
_QUERY_CHUNK = 8192  # queries per faiss call
_PROGRESS_FROM = 200  # files


def _check_workers(workers: int | None) -> int:
    workers = check_int(workers, "workers", low=1, none=True)
    return workers or os.cpu_count() or 1


def _features_or_none(path: str, side: int, n_features: int, data: bytes | None = None) -> Features | None:
    try:
        return extract_features(path, side=side, n_features=n_features, data=data)
    except ImageLoadError as exc:
        logger.warning("skipping %s: %s", path, exc.reason)
    except Exception as exc:  # noqa: BLE001 - one odd file must not end a folder
        logger.warning("skipping %s: unexpected error (%s: %s)", path, type(exc).__name__, exc)
    return None


def extract_all(
    paths: Iterable[str | os.PathLike],
    *,
    side: int = DEFAULT_SIDE,
    n_features: int = DEFAULT_N_FEATURES,
    workers: int | None = None,
    progress: bool | None = None,
) -> dict[str, Features]:
    """ORB features of many files, by path; files that cannot be read are left out (and logged).

    Pass the result to :func:`crop_candidates` and to
    :func:`dedupkit.verify.verify_pairs` (``features=``) so that each file is
    decoded once. Each entry holds its grey working copy (about 170 KB at
    ``side=480``): for tens of thousands of files give :func:`crop_candidates`
    the paths instead, which keeps only the descriptors (about 15 KB each).

    Parameters
    ----------
    paths
        Image files.
    side, n_features
        Working copy size and keypoints per image
        (:func:`dedupkit.features.extract_features`).
    workers
        Threads (decoding and OpenCV release the GIL); default: the number of CPUs.
    progress
        Show a progress bar; default: only for more than 200 files.

    Returns
    -------
    dict
        ``str(path)`` -> :class:`dedupkit.features.Features`, in sorted path
        order. Unreadable files are missing (a warning names each and why).

    Raises
    ------
    ValueError
        ``workers`` is not a positive integer.
    """
    n_workers = _check_workers(workers)
    files = sorted({os.fspath(p) for p in paths})
    show = progress if progress is not None else len(files) > _PROGRESS_FROM
    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        found = list(tqdm(pool.map(lambda p: _features_or_none(p, side, n_features), files),
                          total=len(files), desc="features", unit="img", disable=not show))
    return {path: f for path, f in zip(files, found) if f is not None}


def _light(path: str, mirror: bool, data: bytes | Path | None = None) -> tuple[np.ndarray, np.ndarray | None] | None:
    """An image's descriptors (and its mirror image's), without the rest of its Features; None if unreadable.

    ``data``: its bytes already read (a table row's), or the file a row names.
    """
    if isinstance(data, Path):
        path, data = str(data), None
    elif data is not None and len(data) == 0:
        logger.warning("skipping %s: empty image (0 bytes)", path)
        return None
    f = _features_or_none(path, DEFAULT_SIDE, DEFAULT_N_FEATURES, data=data)
    if f is None:
        return None
    return f.descriptors, (_mirrored(f) if mirror else None)


def _light_from_batches(images: Iterable[tuple[Sequence[str], Sequence]], paths: list[str], mirror: bool,
                        pool: ThreadPoolExecutor, bar) -> list:
    """:func:`_light` of each of ``paths``, in their order, from batches of image bytes; a batch at a time."""
    where = {p: k for k, p in enumerate(paths)}
    light: list = [None] * len(paths)
    for keys, blobs in images:
        chosen = [(where[str(k)], b) for k, b in zip(keys, blobs) if str(k) in where]
        found = pool.map(lambda item: _light(paths[item[0]], mirror, item[1]), chosen)
        for (at, _), descriptors in zip(chosen, found):
            light[at] = descriptors
        bar.update(len(chosen))  # the batch's bytes go with this iteration
    return light


def _mirrored(f: Features) -> np.ndarray:
    """Descriptors of the mirror image of a working copy (ORB is not mirror invariant)."""
    if not f.n:
        return np.zeros((0, 32), np.uint8)
    return features_of_image(np.ascontiguousarray(f.grey[:, ::-1]), side=max(f.grey.shape),
                             n_features=max(f.n, 1)).descriptors


def _make_index(codes: np.ndarray, nprobe: int, single_thread: bool = False):
    """Exact flat index for small sets, else IVF over centroids drawn from the data (seeded)."""
    if single_thread:
        faiss.omp_set_num_threads(1)  # this thread only
    n = len(codes)
    if n < FLAT_BELOW:
        index = faiss.IndexBinaryFlat(256)
        index.add(codes)
        return index
    nlist = int(2 ** round(np.log2(np.sqrt(n * nprobe))))
    quantizer = faiss.IndexBinaryFlat(256)
    quantizer.add(codes[np.random.default_rng(0).choice(n, nlist, replace=False)])
    index = faiss.IndexBinaryIVF(quantizer, 256, nlist)
    index.is_trained = True  # random data points as centroids: no training pass, as FLANN does for binary codes
    index.nprobe = nprobe
    index.add(codes)
    index.own_fields = False  # the quantizer is kept alive by the reference below
    index._quantizer = quantizer
    return index


def _search_votes(index, queries: np.ndarray, query_owner: np.ndarray, owner: np.ndarray, radius: int,
                  n_images: int, workers: int, bar) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Look up every query's nearest neighbours and count votes, chunk by chunk over ``workers`` threads.

    Only the votes of a chunk are kept, not its neighbour lists, so memory grows with the pairs found.
    Returns undirected pairs ``i < j`` and their votes (both directions summed).
    """
    k = min(NEIGHBOURS + 1, index.ntotal)

    def run(start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # OpenMP's thread count is per thread: one here (our threads share the work instead,
        # and OpenMP teams spin badly on a busy machine); the caller's setting is untouched.
        faiss.omp_set_num_threads(1)
        stop = start + _QUERY_CHUNK
        distances, labels = index.search(queries[start:stop], k)
        found = _votes(distances, labels, owner, query_owner[start:stop], radius, TIE, n_images)
        bar.update(len(labels))
        return found

    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(run, range(0, len(queries), _QUERY_CHUNK)))
    if not parts:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    a, b, c = (np.concatenate(x) for x in zip(*parts))
    # a chunk boundary can split an image's queries: sum its directed counts, then both directions
    return _undirected(a, b, c, n_images)


def _votes(distances: np.ndarray, labels: np.ndarray, owner: np.ndarray, query_owner: np.ndarray,
           radius: int, tie: int, n_images: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directed votes (query image, other image, count): one per descriptor and other image it ties with.

    ``radius`` is inclusive (a neighbour at exactly ``radius`` bits matches): faiss's kNN search
    returns distances, and this is the only place they are compared with it.
    """
    other = np.where(labels >= 0, owner[np.maximum(labels, 0)], -1)
    usable = (other >= 0) & (other != query_owner[:, None])
    nearest = np.where(usable, distances, 1 << 20).min(axis=1)
    near = usable & (distances <= np.minimum(radius, nearest + tie)[:, None])
    near &= ~near[:, -1:]  # the whole list ties: more like it are hidden, the descriptor says nothing
    rows = np.broadcast_to(np.arange(len(labels))[:, None], labels.shape)[near].astype(np.int64)
    key = np.unique(rows * n_images + other[near])  # once per descriptor and image
    a = query_owner[key // n_images].astype(np.int64)
    b = key % n_images
    pair, count = np.unique(a * n_images + b, return_counts=True)
    return pair // n_images, pair % n_images, count


def _undirected(a: np.ndarray, b: np.ndarray, count: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum the votes of (a, b) and (b, a) into one pair with a < b."""
    key = np.minimum(a, b) * n + np.maximum(a, b)
    pair, inverse = np.unique(key, return_inverse=True)
    return pair // n, pair % n, np.bincount(inverse, weights=count).astype(np.int64)


def _top_per_image(i: np.ndarray, j: np.ndarray, votes: np.ndarray, per_image: int) -> np.ndarray:
    """Mask of the pairs among the ``per_image`` strongest of either of their images (ties by index)."""
    x = np.concatenate([i, j])
    y = np.concatenate([j, i])
    v = np.concatenate([votes, votes])
    order = np.lexsort((y, -v, x))
    rank = np.empty(len(x), np.int64)
    sorted_x = x[order]
    rank[order] = np.arange(len(x)) - np.searchsorted(sorted_x, sorted_x, side="left")
    keep = rank < per_image
    return keep[: len(i)] | keep[len(i) :]


def crop_candidates(
    source: Iterable[str | os.PathLike] | Mapping[str, Features],
    *,
    per_image: int = 10,
    min_votes: int = 5,
    queries_per_image: int | None = None,
    mirror: bool = False,
    max_distance: int = 64,
    workers: int | None = None,
    progress: bool | None = None,
    images: Iterable[tuple[Sequence[str], Sequence]] | None = None,
) -> pd.DataFrame:
    """Propose pairs of images that share many ORB descriptors: crops, frames, captions, screenshots, turns.

    Parameters
    ----------
    source
        Image files (their features are extracted here), or features already
        extracted, by path (from :func:`extract_all`; pass the same mapping to
        :func:`dedupkit.verify.verify_pairs` to decode each file once).
    per_image
        Each image proposes at most this many partners, its strongest; an
        image may still appear in more pairs when others propose it. The
        table has at most ``per_image`` rows per image.
    min_votes
        Fewest descriptors (counted both ways) that must agree on a pair.
    queries_per_image
        Look up at most this many of each image's descriptors (evenly spread
        over ORB's pyramid levels); all of them are in the index either way.
        ``None`` (default): all. Fewer is faster and finds fewer small crops.
    mirror
        Also look up the descriptors of each image mirrored, for mirrored
        copies that are also cropped or framed (plain mirror images are found
        by :func:`dedupkit.find_pairs_dihedral`). Costs a second ORB pass and
        twice the searching.
    max_distance
        Largest Hamming distance (of 256 bits, inclusive) at which two
        descriptors count as a match.
    workers
        Threads for extraction and search; default: the number of CPUs.
    progress
        Show progress bars; default: only for more than 200 images.
    images
        With file paths as ``source``: read the images from these ``(keys,
        image bytes)`` batches, in one pass, instead of opening each path
        (a Parquet table's rows, :func:`dedupkit.bytes_table.image_batches`);
        only one batch's bytes are held at a time. Keys not in ``source`` are
        left out; a key of ``source`` no batch holds counts as unreadable.

    Returns
    -------
    pandas.DataFrame
        ``path_a``, ``path_b`` (``path_a < path_b``), ``votes`` and
        ``mirrored`` (the votes came from the mirrored look-up); strongest
        first, then by paths. ``attrs`` holds ``skipped`` (unreadable files),
        ``n_images``, ``n_descriptors``, ``index`` (the faiss index type) and
        ``seconds`` (``features``, ``index``, ``search`` with the counting of
        votes, ``select``).

    Raises
    ------
    TypeError
        ``source`` is neither file paths nor a mapping of path to Features.
    ValueError
        ``per_image``, ``min_votes``, ``queries_per_image`` or ``workers`` out of range.

    Examples
    --------
    >>> features = extract_all(paths)                             # doctest: +SKIP
    >>> candidates = crop_candidates(features)                     # doctest: +SKIP
    >>> verified = verify_pairs(candidates, features=features)     # doctest: +SKIP
    """
    import time  # noqa: PLC0415

    per_image = check_int(per_image, "per_image", low=1)
    min_votes = check_int(min_votes, "min_votes", low=1)
    queries_per_image = check_int(queries_per_image, "queries_per_image", low=1, none=True)
    max_distance = check_int(max_distance, "max_distance", low=0, high=256, unit="bits")
    n_workers = _check_workers(workers)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    if isinstance(source, Mapping):
        bad = [type(f).__name__ for f in source.values() if not isinstance(f, Features)]
        if bad:
            raise TypeError(f"a features mapping must hold dedupkit.features.Features values, got {bad[0]}")
        features = {os.fspath(p): f for p, f in source.items()}
        names = sorted(features)
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            flipped = list(pool.map(lambda p: _mirrored(features[p]), names)) if mirror else None
        found = [(features[p].descriptors, None if flipped is None else flipped[k]) for k, p in enumerate(names)]
        skipped: list[str] = []
    elif isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a list of image files or a mapping of path to Features, got the "
                        f"single path {os.fspath(source)!r}; use dedupkit.list_images(folder)[0] for a folder")
    else:
        # only the descriptors are kept (not the grey working copies): memory grows by ~15 KB per image
        paths = sorted({os.fspath(p) for p in source})
        show = progress if progress is not None else len(paths) > _PROGRESS_FROM
        with ThreadPoolExecutor(max_workers=n_workers) as pool, \
                tqdm(total=len(paths), desc="features", unit="img", disable=not show) as bar:
            if images is None:
                light = list(pool.map(lambda p: _light(p, mirror), paths))
                bar.update(len(paths))
            else:
                light = _light_from_batches(images, paths, mirror, pool, bar)
        names = [p for p, x in zip(paths, light) if x is not None]
        found = [x for x in light if x is not None]
        skipped = [p for p, x in zip(paths, light) if x is None]
    seconds["features"] = time.perf_counter() - start

    names = np.array(names, dtype=object)  # sorted: the result does not depend on input order
    n = len(names)
    counts = np.array([len(d) for d, _ in found], np.int64)
    codes = np.concatenate([d for d, _ in found]) if n else np.zeros((0, 32), np.uint8)
    owner = np.repeat(np.arange(n), counts)
    queries, query_owner, query_mirrored = _queries(found, counts, codes, queries_per_image, mirror)
    empty = pd.DataFrame({"path_a": pd.array([], dtype="string"), "path_b": pd.array([], dtype="string"),
                          "votes": np.zeros(0, np.int64), "mirrored": np.zeros(0, bool)})
    empty.attrs.update(skipped=skipped, n_images=n, n_descriptors=len(codes), index="none", seconds=seconds)
    if n < 2 or len(codes) < 2:
        return empty

    t = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as pool:  # a thread of our own: faiss on one OpenMP thread there
        index = pool.submit(_make_index, codes, NPROBE, True).result()
    seconds["index"] = time.perf_counter() - t
    t = time.perf_counter()
    show = progress if progress is not None else n > _PROGRESS_FROM
    parts = []
    with tqdm(total=len(queries), desc="descriptor search", unit="desc", unit_scale=True, disable=not show) as bar:
        for flag in (False, True):
            rows = query_mirrored == flag
            if rows.any():
                i, j, v = _search_votes(index, queries[rows], query_owner[rows], owner, int(max_distance), n,
                                        n_workers, bar)
                parts.append((i, j, v, np.full(len(i), flag)))
    seconds["search"] = time.perf_counter() - t

    t = time.perf_counter()
    i, j, v, m = (np.concatenate(x) for x in zip(*parts))
    # a pair found both ways keeps its stronger look-up
    order = np.lexsort((-v, j, i))
    i, j, v, m = i[order], j[order], v[order], m[order]
    first = np.ones(len(i), bool)
    first[1:] = (i[1:] != i[:-1]) | (j[1:] != j[:-1])
    i, j, v, m = i[first], j[first], v[first], m[first]
    strong = v >= min_votes
    i, j, v, m = i[strong], j[strong], v[strong], m[strong]
    keep = _top_per_image(i, j, v, per_image)
    i, j, v, m = i[keep], j[keep], v[keep], m[keep]
    order = np.lexsort((j, i, -v))  # names are sorted, so i < j is path_a < path_b
    seconds["select"] = time.perf_counter() - t
    table = pd.DataFrame({"path_a": pd.array(names[i[order]].astype(str), dtype="string"),
                          "path_b": pd.array(names[j[order]].astype(str), dtype="string"),
                          "votes": v[order], "mirrored": m[order]})
    table.attrs.update(skipped=skipped, n_images=n, n_descriptors=len(codes),
                       index=type(index).__name__, seconds=seconds)
    return table


def _queries(found: list, counts: np.ndarray, codes: np.ndarray, per_image: int | None,
             mirror: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The descriptors to look up, the image of each, and whether it is of the mirrored image."""
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    rows = [s + _spread(c, per_image) for s, c in zip(starts, counts)]
    take = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    queries = [codes[take]]
    owner = [np.repeat(np.arange(len(found)), [len(r) for r in rows])]
    mirrored = [np.zeros(len(take), bool)]
    if mirror:
        for number, (_, flipped) in enumerate(found):
            flipped = flipped[_spread(len(flipped), per_image)]
            queries.append(flipped)
            owner.append(np.full(len(flipped), number))
            mirrored.append(np.ones(len(flipped), bool))
    return (np.ascontiguousarray(np.concatenate(queries), dtype=np.uint8), np.concatenate(owner).astype(np.int64),
            np.concatenate(mirrored))


def _spread(count: int, most: int | None) -> np.ndarray:
    """Up to ``most`` indexes out of ``count``, evenly spread (all when ``most`` is None or enough)."""
    if most is None or count <= most:
        return np.arange(count, dtype=np.int64)
    return np.unique(np.linspace(0, count - 1, most).round().astype(np.int64))
