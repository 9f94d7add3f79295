"""Verified search: keep the hash matches that local features confirm, and say how each relates to the query.

Each hash match is checked by :func:`dedupkit.verify.verify_features` with
the stored image as A and the query as B, so ``scale`` is the query's size
over the stored image's and ``coverage_stored`` < 1 means that the query is
a crop. A stored image with exactly the query's bytes is confirmed without a
check. An image stored without features (before the database kept them, or
by a server with ``store_features`` off) cannot be checked: it stays in the
answer with ``verified`` null and the reason, so that a client can tell "not
the same" (left out) from "not known".
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import asdict

from ..features import Features
from ..verify import Match as Verdict
from ..verify import relation, verify_features
from .records import Found, MatchRecord
from .schemas import VerifiedMatch

__all__ = ["NO_FEATURES", "verify_matches"]

logger = logging.getLogger(__name__)

NO_FEATURES = ("no features stored: the image was added before the database kept local features (or with "
               "store_features off); delete it and add it again to make it checkable")
_UNCHECKED = dict.fromkeys(("relation", "scale", "rotation", "mirrored", "coverage_query", "coverage_stored",
                            "similarity", "overlay", "overlay_box", "inliers"))


def verify_matches(query: Features, found: Found) -> tuple[list[VerifiedMatch], int]:
    """Check each hash match of ``found`` (searched with ``features=True``) against the query's features.

    Parameters
    ----------
    query
        The query image's features (:func:`dedupkit.features.extract_features`).
    found
        :meth:`ImageStore.search <dedupkit.service.store.ImageStore.search>`'s answer, with the stored features.

    Returns
    -------
    list of VerifiedMatch, int
        The confirmed matches and those that could not be checked, in the
        order of ``found.matches``; how many matches were rejected.
    """
    stored = found.features or {}
    kept: list[VerifiedMatch] = []
    rejected = 0
    for match in found.matches:
        if match.exact:
            kept.append(_identical(match))
            continue
        features = stored.get(match.id)
        if features is None:
            kept.append(VerifiedMatch(**asdict(match), verified=None, reason=NO_FEATURES, **_UNCHECKED))
            continue
        verdict = verify_features(features, query)
        if verdict.same:
            kept.append(_confirmed(match, verdict))
        else:
            rejected += 1
            logger.debug("stored image %d is not the query's picture: %s", match.id, verdict.reason)
    return kept, rejected


def _confirmed(match: MatchRecord, verdict: Verdict) -> VerifiedMatch:
    return VerifiedMatch(
        **asdict(match), verified=True, reason=None, relation=_relation(verdict),
        scale=_number(verdict.scale), rotation=_number(verdict.rotation), mirrored=bool(verdict.mirrored),
        coverage_query=_number(verdict.coverage_b), coverage_stored=_number(verdict.coverage_a),
        similarity=_number(verdict.similarity), overlay=_number(verdict.overlay),
        overlay_box=None if verdict.overlay_box is None else [_number(v) for v in verdict.overlay_box],
        inliers=int(verdict.inliers),
    )


def _identical(match: MatchRecord) -> VerifiedMatch:
    return VerifiedMatch(
        **asdict(match), verified=True, reason=None, relation="The query has the same bytes as the stored image",
        scale=1.0, rotation=0.0, mirrored=False, coverage_query=1.0, coverage_stored=1.0, similarity=1.0,
        overlay=0.0, overlay_box=None, inliers=None,
    )


def _relation(verdict: Verdict) -> str:
    """:func:`dedupkit.verify.relation`'s sentence about B and A, told of the query and the stored image."""
    text = re.sub(r"\bB\b", "the query", re.sub(r"\bA\b", "the stored image", relation(verdict)))
    return text[:1].upper() + text[1:]


def _number(value: float) -> float | None:
    """Rounded for JSON; ``None`` for NaN (JSON has none)."""
    return None if value is None or not math.isfinite(value) else round(float(value), 4) + 0.0  # no -0.0
