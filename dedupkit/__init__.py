"""dedupkit: find duplicate and near-duplicate images.

>>> import dedupkit
>>> hashes = dedupkit.hash_images("data/sample")      # doctest: +SKIP
>>> pairs = dedupkit.find_duplicates(hashes)          # doctest: +SKIP
>>> groups = dedupkit.find_groups(pairs, hashes)      # doctest: +SKIP

Importing the package imports nothing heavy and registers nothing: each public
name is imported from its module on first use (``dedupkit.find_pairs`` loads
faiss and numpy; ``dedupkit.plotting`` matplotlib), so that ``dedupkit --help``
and a service's start do not wait for what they never use.
"""

from __future__ import annotations

import importlib
import importlib.util
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("dedupkit")
except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
    __version__ = "0+unknown"

#: Each public name and the module that owns it.
_OWNERS = {
    "apply": "actions",
    "restore": "actions",
    "resume": "actions",
    "calibrate": "calibration",
    "calibration_photos": "calibration",
    "crop_candidates": "candidates",
    "extract_all": "candidates",
    "DecisionLog": "decisions",
    "apply_decisions": "decisions",
    "read_decisions": "decisions",
    "ORIENTATIONS": "orientations",
    "find_pairs_dihedral": "dihedral",
    "search_dihedral": "dihedral",
    "find_duplicates": "duplicates",
    "make_benchmark": "edits",
    "pair_truth": "evaluate",
    "pairs_near_threshold": "thresholds",
    "precision_recall": "evaluate",
    "random_distances": "thresholds",
    "read_truth": "evaluate",
    "recall_by_edit": "evaluate",
    "recommend_threshold": "evaluate",
    "threshold_summary": "thresholds",
    "true_pairs": "evaluate",
    "export_duplicates": "export",
    "hashes_for": "export",
    "load_threshold": "export",
    "save_hashes": "export",
    "save_threshold": "export",
    "find_groups": "groups",
    "METHODS": "hashing",
    "codes_to_hex": "hashing",
    "hamming": "hashing",
    "hash_bits": "hashing",
    "hash_hex": "hashing",
    "hex_to_codes": "hashing",
    "HashIndex": "index",
    "KEEP_RULES": "keep",
    "file_facts": "keep",
    "keep_order": "keep",
    "ImageLoadError": "load_errors",
    "read_manifest": "manifest",
    "Review": "reviewing",
    "review": "reviewing",
    "ACTIONS": "plan",
    "plan_actions": "plan",
    "plan_summary": "plan",
    "load_image": "loading",
    "table_images": "bytes_table",
    "hash_file": "imagerow",
    "hash_images": "scan",
    "list_images": "scan",
    "TooManyPairsWarning": "search",
    "find_pairs": "search",
    "find_value_pairs": "search",
    "thumbnail": "thumbnails",
    "trim_borders": "trim",
    "Match": "verify",
    "verify_features": "verify",
    "verify_pairs": "verify",
    "write_groups": "export",
    "write_pairs": "export",
    "hash_settings": "tables",
    "read_hashes": "tables",
    "relative_paths": "tables",
    "with_hash_settings": "tables",
    "write_table": "tables",
    "write_report": "report",
}

__all__ = sorted([*_OWNERS, "explain", "plotting"])


def __getattr__(name: str) -> Any:
    owner = _OWNERS.get(name)
    if owner is not None:
        value = getattr(importlib.import_module(f".{owner}", __name__), name)
    elif importlib.util.find_spec(f".{name}", __name__) is not None:  # a submodule: dedupkit.plotting, ...
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # for type checkers and editors: the same names, imported eagerly
    from . import explain, plotting
    from .actions import apply, restore, resume
    from .bytes_table import table_images
    from .calibration import calibrate, calibration_photos
    from .candidates import crop_candidates, extract_all
    from .dihedral import find_pairs_dihedral, search_dihedral
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
        true_pairs,
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
    from .imagerow import hash_file
    from .index import HashIndex
    from .keep import KEEP_RULES, file_facts, keep_order
    from .load_errors import ImageLoadError
    from .loading import load_image
    from .manifest import read_manifest
    from .orientations import ORIENTATIONS
    from .plan import ACTIONS, plan_actions, plan_summary
    from .report import write_report
    from .reviewing import Review, review
    from .scan import hash_images, list_images
    from .search import TooManyPairsWarning, find_pairs, find_value_pairs
    from .tables import hash_settings, read_hashes, relative_paths, with_hash_settings, write_table
    from .thumbnails import thumbnail
    from .trim import trim_borders
    from .verify import Match, verify_features, verify_pairs
