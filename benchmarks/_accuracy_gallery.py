"""Contact sheets of pairs (PNG): two thumbnails side by side and a caption, several pairs per row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from dedupkit.thumbnails import thumbnail

SIDE = 150
ACROSS = 3
CAPTION = 40


def _font(size: int = 11):
    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default()


def sheet(rows: list[tuple[str, str, str]], root: Path, path: Path, title: str) -> Path | None:
    """Write a sheet of ``(file_a, file_b, caption)`` (files relative to ``root``); None when there are none."""
    if not rows:
        return None
    font, bold = _font(11), _font(14)
    slot_w, slot_h = 2 * SIDE + 8 + 16, SIDE + CAPTION
    n_rows = -(-len(rows) // ACROSS)
    canvas = Image.new("RGB", (ACROSS * slot_w, 28 + n_rows * slot_h), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((6, 6), title, fill="black", font=bold)
    for k, (a, b, caption) in enumerate(rows):
        x0, y0 = (k % ACROSS) * slot_w + 4, 28 + (k // ACROSS) * slot_h
        for i, f in enumerate((a, b)):
            thumb = Image.fromarray(np.asarray(thumbnail(root / f, size=SIDE)))
            x = x0 + i * (SIDE + 8) + (SIDE - thumb.width) // 2
            canvas.paste(thumb, (x, y0 + (SIDE - thumb.height) // 2))
        for j, line in enumerate(caption.split("\n")[:3]):
            draw.text((x0, y0 + SIDE + 1 + 12 * j), line[:56], fill="black", font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path


def _what(group: str, kind: str, edit: str) -> str:
    return f"{group[-30:]} ({'orig' if kind == 'original' else edit})"


def false_sheet(labelled: pd.DataFrame, root: Path, path: Path, title: str, limit: int) -> Path | None:
    """The false pairs, closest first (smallest hash distance; most inliers for verified pairs), one per
    pair of pictures (the caption says how many false pairs join those two pictures)."""
    false = labelled[~labelled["duplicate"]].copy()
    if false.empty:
        return None
    keys = ["inliers", "distance"] if "inliers" in false.columns else ["distance"]
    false = false.sort_values(keys, ascending=[k != "inliers" for k in keys], kind="stable")
    false["pictures"] = [tuple(sorted((a, b))) for a, b in zip(false["group_a"], false["group_b"])]
    per_pictures = false["pictures"].value_counts()
    shown = false.drop_duplicates("pictures").head(limit)
    rows = []
    for r in shown.itertuples(index=False):
        extra = f" inliers={r.inliers}" if hasattr(r, "inliers") else ""
        if hasattr(r, "similarity") and pd.notna(r.similarity):
            extra += f" sim={r.similarity:.2f}"
        look = f" lookalike {r.lookalike_a}" if r.lookalike_a and r.lookalike_a == r.lookalike_b else ""
        rows.append((r.path_a, r.path_b,
                     f"{_what(r.group_a, r.kind_a, r.edit_a)}\n{_what(r.group_b, r.kind_b, r.edit_b)}\n"
                     f"d={r.distance}{extra}; {per_pictures[r.pictures]} such pairs{look}"))
    return sheet(rows, root, path, f"{title}: {len(false)} false pairs between {len(per_pictures)} pairs of "
                                   f"pictures; one per pair of pictures, closest first")


def missed_sheet(missed: pd.DataFrame, root: Path, path: Path, title: str, limit: int) -> Path | None:
    """The missed copies next to their originals, widest first (largest hash distance), at most two per picture."""
    if missed.empty:
        return None
    ordered = missed.sort_values("distance", ascending=False, kind="stable")
    shown = ordered[ordered.groupby("group").cumcount() < 2].head(limit)
    rows = []
    for r in shown.itertuples(index=False):
        why = ""
        if hasattr(r, "candidate") and r.candidate:
            why = f"{r.reason}; inliers={r.inliers}" if isinstance(r.reason, str) else ""
            if pd.notna(getattr(r, "similarity", np.nan)):
                why += f" sim={r.similarity:.2f}"
        elif hasattr(r, "candidate"):
            why = "not a candidate"
        rows.append((r.original, r.file, f"{r.family}/{r.edit}  d={r.distance}\n{r.group[-40:]}\n{why}"))
    return sheet(rows, root, path, f"{title}: {len(missed)} missed copies (original | copy), widest first")
