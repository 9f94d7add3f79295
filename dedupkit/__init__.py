"""dedupkit: find duplicate and near-duplicate images.

>>> import dedupkit
>>> hashes = dedupkit.hash_images("data/sample")      # doctest: +SKIP
>>> pairs = dedupkit.find_pairs(hashes, max_distance=10)  # doctest: +SKIP
>>> groups = dedupkit.find_groups(pairs, hashes)      # doctest: +SKIP
"""

from importlib.metadata import PackageNotFoundError, version

from .candidates import crop_candidates, extract_all
from .dihedral import ORIENTATIONS, find_pairs_dihedral, search_dihedral
from .duplicates import find_duplicates
from .edits import make_benchmark
from .evaluate import (
    pair_truth,
    pairs_near_threshold,
    precision_recall,
    random_distances,
    read_truth,
    recall_by_edit,
    recommend_threshold,
    threshold_summary,
)
from .export import (
    export_duplicates,
    hashes_for,
    load_threshold,
    save_hashes,
    save_threshold,
    write_groups,
    write_pairs,
)
from .groups import find_groups
from .hashing import METHODS, codes_to_hex, hamming, hash_bits, hash_hex, hex_to_codes
from .loading import ImageLoadError, load_image
from .scan import hash_file, hash_images, list_images
from .index import HashIndex
from .search import TooManyPairsWarning, find_pairs, find_value_pairs
from .tables import hash_settings, read_hashes, relative_paths, with_hash_settings, write_table
from .thumbnails import thumbnail
from .trim import trim_borders
from .verify import Match, verify_features, verify_pairs

try:
    __version__ = version("dedupkit")  # one owner: the version in pyproject.toml, as installed
except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
    __version__ = "0+unknown"


def __getattr__(name: str):
    # dedupkit.plotting and dedupkit.explain are imported on first use: matplotlib
    # is slow to import and a service never draws.
    if name in ("explain", "plotting"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "METHODS",
    "Match",
    "ORIENTATIONS",
    "HashIndex",
    "ImageLoadError",
    "TooManyPairsWarning",
    "codes_to_hex",
    "crop_candidates",
    "explain",
    "export_duplicates",
    "extract_all",
    "find_duplicates",
    "find_groups",
    "find_pairs",
    "find_pairs_dihedral",
    "find_value_pairs",
    "hamming",
    "hash_bits",
    "hash_file",
    "hash_hex",
    "hash_images",
    "hash_settings",
    "hashes_for",
    "hex_to_codes",
    "list_images",
    "load_image",
    "load_threshold",
    "make_benchmark",
    "pair_truth",
    "pairs_near_threshold",
    "plotting",
    "precision_recall",
    "random_distances",
    "read_hashes",
    "read_truth",
    "recall_by_edit",
    "recommend_threshold",
    "relative_paths",
    "save_hashes",
    "save_threshold",
    "search_dihedral",
    "threshold_summary",
    "thumbnail",
    "trim_borders",
    "verify_features",
    "verify_pairs",
    "with_hash_settings",
    "write_groups",
    "write_pairs",
    "write_table",
]
