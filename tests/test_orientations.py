"""dedupkit.orientations: the one table of the 8 orientations and of the EXIF orientation values."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from dedupkit import edits
from dedupkit.orientations import EXIF_ORIENTATION, EXIF_STORED, INVERSE, ORIENTATIONS, TRANSPOSES, turned_a_quarter

_PICTURE = Image.fromarray(np.arange(12, dtype=np.uint8).reshape(3, 4) * 20)  # no symmetry: every turn differs


def _turn(image: Image.Image, name: str) -> Image.Image:
    how = TRANSPOSES[name]
    return image if how is None else image.transpose(how)


def test_the_8_orientations_are_the_8_different_turns():
    turned = {_turn(_PICTURE, name).tobytes() + bytes(_turn(_PICTURE, name).size) for name in ORIENTATIONS}
    assert len(ORIENTATIONS) == 8 and ORIENTATIONS[0] == "identity" and len(turned) == 8


@pytest.mark.parametrize("name", ORIENTATIONS)
def test_the_inverse_undoes_each_orientation(name):
    back = _turn(_turn(_PICTURE, name), ORIENTATIONS[INVERSE[ORIENTATIONS.index(name)]])
    assert back.tobytes() == _PICTURE.tobytes() and back.size == _PICTURE.size


@pytest.mark.parametrize("value", sorted(EXIF_STORED))
def test_stored_pixels_with_their_exif_value_are_shown_upright(value):
    stored = _PICTURE.transpose(EXIF_STORED[value])
    exif = stored.getexif()
    exif[EXIF_ORIENTATION] = value
    stored.info["exif"] = exif.tobytes()
    assert ImageOps.exif_transpose(stored).tobytes() == _PICTURE.tobytes()
    assert turned_a_quarter(stored) == (value >= 5)


def test_the_benchmark_edits_turn_with_the_same_table():
    turns = [edit for edit in edits.DEFAULT_EDITS if edit.family == "dihedral"]
    assert turns and all(edit.params["how"] in ORIENTATIONS for edit in turns)
    for edit in turns:
        assert edits.apply_edit(_PICTURE.convert("RGB"), edit).image.tobytes() == \
            _turn(_PICTURE.convert("RGB"), edit.params["how"]).tobytes()
