"""Does a scan keep the original? Measured on real photos the keep rules were not written against.

The photos come from two Debian packages that neither the bundled sample nor
bench-data (``bench_data.PACKAGES``, ``bench_data.FORBIDDEN``) uses:
``enlightenment-data`` (its photographic desktop backgrounds: each ``.edj``
file holds the picture as plain JPEG streams at several sizes; the one
nearest 1280 pixels wide is taken byte for byte) and
``lomiri-wallpapers-20.04`` (four wallpapers, shrunk to 1600 pixels and
saved at quality 92, their EXIF kept). They are downloaded once with
``apt-get download`` into ``--cache`` and never committed.

Each photo gets nine edited copies, made here by simple hand-written edits
(not by ``dedupkit.edits`` or ``bench_edits``), saved the way common tools
save: a frame (JPEG 92), greyscale (90), a PNG re-save, an animated GIF, an
EXIF-rotated copy (the pixels turned, an orientation tag turning them back;
95, as phone apps save), half size (75, Pillow's default), 1.5x upscaled
(90), a central 80% crop (85) and a caption bar (90). Every file gets a
random name and the same modification time, so names and dates tell nothing
and only the pictures decide (in a real folder ``photo-edited.jpg`` beside
``photo.jpg``, or the older file, would decide some ties).

The folder is scanned as a user would: ``find_duplicates`` then
``find_groups``. For each group: is the file kept the original, by the keep
rules and by the old rule (most pixels, then the largest file) on the same
group? And for each edit alone (the original and that copy, their verified
pair): which of the two each rule keeps.

    .venv/bin/python benchmarks/bench_keep_unseen.py --cache bench-data/unseen-debs --out out/keep-unseen
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_data import FORBIDDEN, PACKAGES, download_and_unpack  # noqa: E402

import dedupkit  # noqa: E402

SOURCES = ("enlightenment-data", "lomiri-wallpapers-20.04")
EDITS = ("frame", "grey", "png", "gif", "exif_rotated", "half", "upscaled", "crop", "caption")
TARGET_WIDTH = 1280  # the size taken from each .edj
MAX_SIDE = 1600  # the large wallpapers are shrunk to this
SAME_TIME = 1_700_000_000  # every file's mtime: dates tell nothing


def fetch(cache: Path) -> dict[str, Path]:
    """Download (once) and unpack each source package; its unpacked root."""
    overlap = set(SOURCES) & (set(PACKAGES) | FORBIDDEN)
    if overlap:
        raise ValueError(f"{sorted(overlap)} are bench-data's packages (or kept out of it): choose others")
    return download_and_unpack(SOURCES, cache / "debs", cache / "unpacked")


def originals(roots: dict[str, Path]) -> dict[str, bytes]:
    """Each photo's bytes as the original file, by name."""
    photos = {}
    for edj in sorted((roots["enlightenment-data"] / "usr/share/enlightenment/data/backgrounds").glob("*.edj")):
        data = edj.read_bytes()
        streams = []
        for match in re.finditer(rb"\xff\xd8\xff", data):
            try:
                with Image.open(io.BytesIO(data[match.start():])) as image:
                    image.load()
                    streams.append((abs(image.width - TARGET_WIDTH), match.start(), image.size))
            except (OSError, SyntaxError, ValueError):
                continue
        if not streams:
            continue  # drawn in vectors, no picture in it
        _, start, _ = min(streams)
        photos[edj.stem] = _jpeg_stream(data[start:])
    for path in sorted((roots["lomiri-wallpapers-20.04"] / "usr/share/backgrounds").glob("*.jpg")):
        with Image.open(path) as image:
            exif = image.getexif()
            image.draft("RGB", (MAX_SIDE, MAX_SIDE))
            picture = image.convert("RGB")
        picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=92, exif=exif)
        photos[path.stem.split("_by_")[0]] = buffer.getvalue()
    return photos


def _jpeg_stream(data: bytes) -> bytes:
    """The JPEG stream at the start of ``data``: up to the end-of-image marker after the entropy-coded scans."""
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            raise ValueError("not a JPEG marker")
        marker = data[i + 1]
        if marker == 0xD9:
            return data[: i + 2]
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = int.from_bytes(data[i + 2:i + 4], "big")
        i += 2 + length
        if marker == 0xDA:  # entropy-coded data: up to the next marker that is not a stuffed byte or a restart
            while i + 1 < n and not (data[i] == 0xFF and data[i + 1] not in (0x00, *range(0xD0, 0xD8))):
                i += 1
    raise ValueError("no end-of-image marker")


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType sizes
        return ImageFont.load_default()


def edit(picture: Image.Image, name: str, seed: int) -> tuple[bytes, str]:
    """One edited copy of ``picture``: its bytes and file extension."""
    buffer = io.BytesIO()
    w, h = picture.size
    if name == "frame":
        pad = max(8, min(w, h) // 16)
        framed = ImageOps.expand(picture, border=pad, fill="white" if seed % 2 else "black")
        framed.save(buffer, "JPEG", quality=92)
    elif name == "grey":
        ImageOps.grayscale(picture).save(buffer, "JPEG", quality=90)
    elif name == "png":
        picture.save(buffer, "PNG")
    elif name == "gif":
        frames = [picture, ImageEnhance.Brightness(picture).enhance(1.08),
                  ImageEnhance.Brightness(picture).enhance(0.92)]
        frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=300, loop=0)
        return buffer.getvalue(), ".gif"
    elif name == "exif_rotated":
        turned = picture.transpose(Image.Transpose.ROTATE_90)  # pixels turned left; orientation 6 turns them back
        exif = Image.Exif()
        exif[0x0112] = 6
        turned.save(buffer, "JPEG", quality=95, exif=exif)
        with Image.open(io.BytesIO(buffer.getvalue())) as check:
            assert ImageOps.exif_transpose(check).size == picture.size  # shown upright
    elif name == "half":
        picture.resize((w // 2, h // 2), Image.Resampling.LANCZOS).save(buffer, "JPEG", quality=75)
    elif name == "upscaled":
        picture.resize((w * 3 // 2, h * 3 // 2), Image.Resampling.LANCZOS).save(buffer, "JPEG", quality=90)
    elif name == "crop":
        picture.crop((w // 10, h // 10, w - w // 10, h - h // 10)).save(buffer, "JPEG", quality=85)
    elif name == "caption":
        bar = max(24, h // 8)
        canvas = Image.new("RGB", (w, h + bar), "white")
        canvas.paste(picture, (0, 0))
        ImageDraw.Draw(canvas).text((bar // 3, h + bar // 4), "Holidays, summer 2021", fill="black",
                                    font=_font(bar // 2))
        canvas.save(buffer, "JPEG", quality=90)
    else:
        raise ValueError(f"unknown edit {name!r}")
    return buffer.getvalue(), ".png" if name == "png" else ".jpg"


def build(out: Path, photos: dict[str, bytes], seed: int) -> pd.DataFrame:
    """The folder of photos and edits under random names; the truth (file, photo, edit)."""
    folder = out / "photos"
    truth_path = out / "truth.csv"
    if truth_path.exists():
        return pd.read_csv(truth_path)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    rows = []

    def write(data: bytes, ext: str, photo: str, edit_name: str) -> None:
        name = f"{rng.bytes(6).hex()}{ext}"
        (folder / name).write_bytes(data)
        os.utime(folder / name, (SAME_TIME, SAME_TIME))
        rows.append({"file": name, "photo": photo, "edit": edit_name})

    for k, (photo, data) in enumerate(sorted(photos.items())):
        write(data, ".jpg", photo, "original")
        with Image.open(io.BytesIO(data)) as image:
            picture = ImageOps.exif_transpose(image).convert("RGB")
        for name in EDITS:
            write(*edit(picture, name, k), photo, name)
    truth = pd.DataFrame(rows)
    truth.to_csv(truth_path, index=False)
    return truth


def old_rule_pick(members: pd.DataFrame) -> str:
    """The old rule: the most pixels (as shown), then the largest file."""
    return members.assign(pixels=members["width"] * members["height"]).sort_values(
        ["pixels", "bytes"], ascending=False)["path"].iloc[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True, help="where the .deb files are downloaded and unpacked")
    parser.add_argument("--out", type=Path, default=Path("out/keep-unseen"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.monotonic()
    photos = originals(fetch(args.cache))
    truth = build(args.out, photos, args.seed)
    folder = args.out / "photos"
    print(f"{truth['photo'].nunique()} photos, {len(truth)} files in {folder}", file=sys.stderr)

    hashes = dedupkit.hash_images(folder, progress=True)
    pairs = dedupkit.find_duplicates(hashes, progress=True)
    facts = dedupkit.file_facts(hashes["path"])
    of = truth.set_index("file")
    info = hashes.set_index("path")[["width", "height", "bytes"]]

    def edit_of(path: str) -> str:
        return of.loc[os.path.basename(path), "edit"]

    def photo_of(path: str) -> str:
        return of.loc[os.path.basename(path), "photo"]

    def kept_in_groups(leave_out: tuple[str, ...]) -> pd.DataFrame:
        """Each group's kept file, by the keep rules and by the old rule, with the edits ``leave_out`` left out."""
        some = ~pairs["path_a"].map(edit_of).isin(leave_out) & ~pairs["path_b"].map(edit_of).isin(leave_out)
        groups = dedupkit.find_groups(pairs[some], hashes, facts=facts)
        rows = []
        for g, members in groups.groupby("group"):
            members = members.join(info, on="path")
            kept = members.loc[members["keep"], "path"].iloc[0]
            rows.append({"left_out": ",".join(leave_out), "group": g, "photo": photo_of(kept), "size": len(members),
                         "photos_in_group": members["path"].map(photo_of).nunique(),
                         "has_original": bool(members["path"].map(edit_of).eq("original").any()),
                         "kept": os.path.basename(kept), "kept_edit": edit_of(kept),
                         "why": members["keep_reason"].iloc[0], "old_kept_edit": edit_of(old_rule_pick(members))})
        return pd.DataFrame(rows, columns=["left_out", "group", "photo", "size", "photos_in_group", "has_original",
                                           "kept", "kept_edit", "why", "old_kept_edit"])

    per_group = pd.concat([kept_in_groups(()), kept_in_groups(("upscaled",))], ignore_index=True)

    # each edit alone: the original and that copy, their verified pair
    pair_rows = []
    for photo, files in truth.groupby("photo"):
        source = str(folder / files.loc[files["edit"] == "original", "file"].iloc[0])
        for name in EDITS:
            copy = str(folder / files.loc[files["edit"] == name, "file"].iloc[0])
            row = pairs[((pairs["path_a"] == source) & (pairs["path_b"] == copy))
                        | ((pairs["path_a"] == copy) & (pairs["path_b"] == source))]
            if row.empty:
                pair_rows.append({"photo": photo, "edit": name, "found": False})
                continue
            two = dedupkit.find_groups(row, hashes, facts=facts)
            kept = two.loc[two["keep"], "path"].iloc[0]
            pair_rows.append({"photo": photo, "edit": name, "found": True, "new_original": kept == source,
                              "why": two["keep_reason"].iloc[0],
                              "old_original": old_rule_pick(two.join(info, on="path")) == source})
    per_pair = pd.DataFrame(pair_rows)
    per_group.to_csv(args.out / "groups_kept.csv", index=False)
    per_pair.to_csv(args.out / "pairs_kept.csv", index=False)

    summary: dict = {"photos": int(truth["photo"].nunique()), "files": len(truth)}
    for left_out, part in per_group.groupby("left_out", sort=False):
        with_original = part[part["has_original"]]
        summary["every edit" if not left_out else f"without {left_out}"] = {
            "groups": len(part), "groups_with_original": len(with_original),
            "groups_mixing_photos": int((part["photos_in_group"] > 1).sum()),
            "files_in_groups": int(part["size"].sum()),
            "new_keeps_original": int((with_original["kept_edit"] == "original").sum()),
            "old_keeps_original": int((with_original["old_kept_edit"] == "original").sum())}
    summary["seconds"] = round(time.monotonic() - started)
    print(json.dumps(summary, indent=1))
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print("\nper edit (the original and that copy alone; share of found pairs where the original is kept):")
    found = per_pair[per_pair["found"]]
    table = found.groupby("edit").agg(found=("photo", "size"), new=("new_original", "mean"),
                                      old=("old_original", "mean"))
    table.insert(0, "pairs", per_pair.groupby("edit").size())
    print(table.reindex(list(EDITS)).round(2).to_string())
    print("\nwhy the copy was kept (pairs):")
    print(found[~found["new_original"].astype(bool)].groupby(["edit", "why"]).size().to_string())
    print("\ngroups that keep an edit, or have no original:")
    wrong = per_group[~per_group["has_original"] | (per_group["kept_edit"] != "original")]
    print(wrong[["left_out", "group", "photo", "size", "kept", "kept_edit", "why"]].to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
