"""Every numeric option is checked the same way (dedupkit._checks): numpy integers pass, a bool or a float where
a whole number is needed is a TypeError, a value out of range a ValueError, and the message names the option."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import dedupkit
from dedupkit._checks import check_int, check_real
from dedupkit.service.store import ImageStore
from dedupkit.trim import trim_box

_TABLE = pd.DataFrame({"path": ["a.jpg", "b.jpg", "c.jpg"],
                       "hash": ["ffff0000ffff0000", "ffff0000ffff0001", "0000ffff0000ffff"]})
_PAIRS = pd.DataFrame({"path_a": ["a.jpg", "a.jpg"], "path_b": ["b.jpg", "c.jpg"], "distance": [1, 12]})
_TRUTH = pd.DataFrame({"file": ["a.jpg", "b.jpg", "c.jpg"], "group": ["a", "a", "c"],
                       "edit": ["original", "grey", "original"]})
_CURVE = dedupkit.precision_recall(_PAIRS, _TRUTH, max_threshold=12)
_IMAGE = Image.effect_noise((40, 30), 60)


def _one_photo(tmp):
    folder = tmp / "photos"
    folder.mkdir(exist_ok=True)
    _IMAGE.convert("RGB").resize((120, 90)).save(folder / "photo.jpg")
    return folder


def _index() -> dedupkit.HashIndex:
    return dedupkit.HashIndex.from_hashes(_TABLE, method="dhash", hash_size=8, trim=True, exact=False)


# (option, how to call with a value, a good value, a value out of range)
CASES = [
    ("max_distance", lambda v, tmp: dedupkit.find_pairs(_TABLE, max_distance=v), 3, 65),
    ("max_pairs", lambda v, tmp: dedupkit.find_pairs(_TABLE, max_pairs=v), 5, -1),
    ("max_distance", lambda v, tmp: dedupkit.find_value_pairs(_TABLE, max_distance=v), 3, -1),
    ("max_distance", lambda v, tmp: _index().search(_TABLE, max_distance=v), 3, 65),
    ("k", lambda v, tmp: _index().search(_TABLE, max_distance=None, k=v), 2, 0),
    ("hash_size", lambda v, tmp: dedupkit.hash_bits(_IMAGE, hash_size=v), 8, 2),
    ("workers", lambda v, tmp: dedupkit.hash_images(tmp, workers=v), 1, 0),
    ("chunk_size", lambda v, tmp: dedupkit.hash_images(tmp, chunk_size=v), 4, 0),
    ("threshold", lambda v, tmp: dedupkit.save_threshold(tmp, v), 3, -1),
    ("threshold", lambda v, tmp: dedupkit.threshold_summary(_PAIRS, v), 3, -1),
    ("threshold", lambda v, tmp: dedupkit.recall_by_edit(_PAIRS, _TRUTH, v), 3, -1),
    ("threshold", lambda v, tmp: dedupkit.pairs_near_threshold(_PAIRS, v), 3, -1),
    ("n", lambda v, tmp: dedupkit.pairs_near_threshold(_PAIRS, 3, n=v), 2, -1),
    ("max_threshold", lambda v, tmp: dedupkit.precision_recall(_PAIRS, _TRUTH, max_threshold=v), 5, -1),
    ("n", lambda v, tmp: dedupkit.random_distances(_TABLE, n=v), 2, -1),
    ("min_precision", lambda v, tmp: dedupkit.recommend_threshold(_CURVE, min_precision=v), 0.5, 1.5),
    ("size", lambda v, tmp: dedupkit.thumbnail("data/sample/coffee.jpg", size=v), 16, 4),
    ("tolerance", lambda v, tmp: trim_box(_IMAGE, tolerance=v), 10, 300),
    ("max_photos", lambda v, tmp: dedupkit.make_benchmark(_one_photo(tmp), tmp / "out", max_photos=v), 1, 0),
    ("thumb_size", lambda v, tmp: dedupkit.write_report(
        dedupkit.find_groups(_PAIRS), path=tmp / "r.html", thumb_size=v), 16, 4),
    ("limit", lambda v, tmp: ImageStore(tmp / "store.db").list(limit=v), 5, 0),
    ("offset", lambda v, tmp: ImageStore(tmp / "store.db").list(offset=v), 0, -1),
    ("workers", lambda v, tmp: dedupkit.verify_pairs(_PAIRS.iloc[:0], workers=v), 1, 0),
    ("max_distance", lambda v, tmp: dedupkit.crop_candidates({}, max_distance=v), 64, 257),
    ("per_image", lambda v, tmp: dedupkit.crop_candidates({}, per_image=v), 4, 0),
]
IDS = [f"{case[0]}-{i}" for i, case in enumerate(CASES)]
_WHOLE = {"min_precision", "tolerance"}  # these may have a fraction


@pytest.mark.parametrize(("name", "call", "good", "outside"), CASES, ids=IDS)
def test_a_numpy_number_is_taken_like_a_python_one(tmp_path, name, call, good, outside):
    given = np.float64(good) if isinstance(good, float) else np.int64(good)
    expected = call(good, tmp_path)
    assert type(call(given, tmp_path)) is type(expected)


@pytest.mark.parametrize(("name", "call", "good", "outside"), CASES, ids=IDS)
def test_a_bool_or_a_string_is_a_type_error_naming_the_option(tmp_path, name, call, good, outside):
    for wrong in (True, "3"):
        with pytest.raises(TypeError, match=rf"^{name} must be a .*got {wrong!r} \({type(wrong).__name__}\)"):
            call(wrong, tmp_path)


@pytest.mark.parametrize(("name", "call", "good", "outside"), [c for c in CASES if c[0] not in _WHOLE],
                         ids=[i for i, c in zip(IDS, CASES) if c[0] not in _WHOLE])
def test_a_fraction_where_a_whole_number_is_needed_is_a_type_error(tmp_path, name, call, good, outside):
    with pytest.raises(TypeError, match=rf"^{name} must be a whole number.*got 2\.5 \(float\)"):
        call(2.5, tmp_path)


@pytest.mark.parametrize(("name", "call", "good", "outside"), CASES, ids=IDS)
def test_out_of_range_is_a_value_error_naming_the_option_and_the_range(tmp_path, name, call, good, outside):
    with pytest.raises(ValueError, match=rf"^{name} must be a (whole )?number (between|>=|above) .*got {outside}$"):
        call(outside, tmp_path)


@pytest.mark.parametrize(("value", "error"), [
    (np.int32(3), None), (3, None), (np.uint8(64), None), (None, TypeError), (np.float32(3.0), TypeError),
    (np.bool_(True), TypeError), (-1, ValueError), (65, ValueError),
], ids=["int32", "int", "uint8", "None", "float32", "numpy-bool", "below", "above"])
def test_check_int(value, error):
    if error is None:
        assert check_int(value, "x", low=0, high=64) == int(value)
        assert type(check_int(value, "x", low=0, high=64)) is int
    else:
        with pytest.raises(error, match="^x must be a whole number between 0 and 64, got"):
            check_int(value, "x", low=0, high=64)


def test_check_int_and_check_real_say_when_none_is_allowed():
    assert check_int(None, "workers", low=1, none=True) is None
    with pytest.raises(ValueError, match=r"^workers must be a whole number >= 1 or None, got 0$"):
        check_int(0, "workers", low=1, none=True)
    with pytest.raises(ValueError, match=r"^p must be a number above 0 and at most 1, got nan$"):
        check_real(float("nan"), "p", low=0, high=1, low_open=True)
    with pytest.raises(ValueError, match=r"^p must be a number above 0 and at most 1, got 0$"):
        check_real(0, "p", low=0, high=1, low_open=True)
    assert check_real(np.float32(0.5), "p", low=0, high=1) == 0.5
