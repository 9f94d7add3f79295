"""Build the verification benchmark data set (``make bench-data``).

Real pictures from Debian packages (downloaded once with ``apt-get download``
and cached under ``<out>/debs/``), normalised into ``<out>/photos/``, with
seeded randomised edits in ``<out>/edits/``, natural copies shipped by the
packages themselves in ``<out>/natural/``, hard negatives labelled by a
``lookalike`` set, and ``<out>/truth.csv`` + ``<out>/summary.json``.

    .venv/bin/python benchmarks/bench_data.py [--out bench-data] [--seed 0]

Running it again skips what is already done. See benchmarks/README.md,
section "Verification benchmark data", for the rules.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import itertools
import json
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageOps
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_edits  # noqa: E402

MAX_SIDE = 1600
MIN_SIDE = 200
EDITS_VERSION = 2  # bump when bench_edits changes what it draws, to redo the edits
MIN_SIDE_NATURAL = 100  # a package's own thumbnail may be smaller than an original
IMAGE_EXT = (".jpg", ".jpeg", ".png", ".webp")

PACKAGES = (
    "gnome-backgrounds", "ukui-wallpapers", "xfdesktop4-data", "sway-backgrounds",
    "desktop-base", "debian-edu-artwork-emerald", "debian-edu-artwork-homeworld",
    "debian-edu-artwork-softwaves", "debian-edu-artwork-spacefun",
    "debian-edu-artwork-buster", "kstars-data", "marble-data", "stellarium-data",
    "tuxpaint-stamps-default", "gimp-data", "gnome-user-docs", "opencv-doc",
    "visp-images-data", "xplanet-images", "imagemagick-6-doc", "sddm-theme-maldives",
    "sddm-theme-maui", "sddm-theme-debian-maui", "sddm-theme-elarun", "grub-theme-starfield",
    "frozen-bubble-data", "hugin-data", "inkscape-tutorials", "python-pygame-doc",
)
# Kept for an independent check: never used here.
FORBIDDEN = {
    "plasma-workspace-wallpapers", "mate-backgrounds", "lxqt-themes", "kphotoalbum",
    "tuxpaint-data", "palapeli-data", "gcompris-qt-data", "python3-sklearn",
    "python-matplotlib-data", "libjxl-testdata", "gimp-help-en",
}


@dataclass
class Item:
    """One picture taken from a package, before grouping."""

    path: Path
    package: str
    series: str
    stem: str
    lookalike: str = ""
    crop: tuple[int, int, int, int] | None = None  # for the "two shots" originals
    same: str = ""  # items sharing a non-empty `same` are declared one picture
    natural_only: bool = False  # kept only as a natural copy of another item
    natural_edit: str = ""  # how a natural copy differs, when known (else measured)
    variant: str = ""  # items sharing it are one design at several aspect ratios
    info: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.series}__{self.stem}"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


# ------------------------------------------------------------------ packages
def download_and_unpack(packages: tuple[str, ...], debs: Path, unpacked: Path) -> dict[str, Path]:
    """``apt-get download`` each package into ``debs`` (once) and unpack it under ``unpacked``; its root."""
    debs.mkdir(parents=True, exist_ok=True)
    missing = [p for p in packages if not list(debs.glob(f"{p}_*.deb"))]
    if missing:
        print(f"apt-get download {' '.join(missing)}", file=sys.stderr)
        subprocess.run(["apt-get", "download", *missing], cwd=debs, check=True)
    roots = {}
    for pkg in tqdm(packages, desc="unpack"):
        root = unpacked / pkg
        if not (root / ".done").exists():
            deb = sorted(debs.glob(f"{pkg}_*.deb"))[-1]
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
            (root / ".done").touch()
        roots[pkg] = root
    return roots


def fetch_packages(out: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Download (once) and unpack each package; return its unpacked root."""
    for pkg in packages:
        if pkg in FORBIDDEN:
            raise ValueError(f"{pkg} is kept for an independent check; remove it from PACKAGES")
    return download_and_unpack(packages, out / "debs", out / "cache" / "unpacked")


# Packages whose doc folder is a link to another package's: read that one's copyright.
COPYRIGHT_FROM = {"imagemagick-6-doc": "imagemagick-6-common",
                  "grub-theme-starfield": "grub-common"}


def copyright_text(roots: dict[str, Path], pkg: str) -> str:
    owner = COPYRIGHT_FROM.get(pkg, pkg)
    path = roots[owner] / "usr/share/doc" / owner / "copyright"
    return path.read_text(errors="replace") if path.exists() else ""


def copyright_stanzas(text: str) -> list[dict]:
    """The paragraphs of a machine-readable (DEP-5) copyright file, as dicts."""
    stanzas = []
    for para in re.split(r"\n\s*\n", text):
        fields, key = {}, None
        for line in para.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                key = key.strip()
                fields[key] = value.strip()
        if fields:
            stanzas.append(fields)
    return stanzas


def licence_of(text: str) -> str:
    """The licences named in a copyright file, joined with '; '."""
    names = []
    for stanza in copyright_stanzas(text):
        name = stanza.get("License", "").split("\n")[0].strip()
        if name and name not in names:
            names.append(name)
    if names:
        return "; ".join(names)
    for key in ("CC-BY-SA", "CC-BY", "GPL-3", "GPL-2", "LGPL", "BSD", "public domain"):
        if key.lower() in text.lower():
            return key
    return "unknown"


def _pattern_matches(pattern: str, parts: tuple[str, ...]) -> bool:
    """Does a DEP-5 ``Files:`` pattern (a source path) name this installed file?

    Source and installed paths differ in their leading folders, so the pattern's
    trailing components are compared with the file's (``data/themes/x/*``
    matches ``usr/share/sddm/themes/x/a.jpg``); a pattern cut down to a bare
    wildcard (``*``, ``*.png``) only counts when it was written so.
    """
    pp = pattern.strip("/").split("/")
    for k in range(len(pp)):
        sub = pp[k:]
        if k and len(sub) == 1 and any(c in sub[0] for c in "*?["):
            break
        tail = "/".join(parts[-len(sub):])
        if len(sub) <= len(parts) and fnmatch.fnmatchcase(tail, "/".join(sub)):
            return True
    return False


def licence_for(text: str, rel: str) -> tuple[str, str]:
    """(licence, copyright holders) of one installed file; the last matching stanza wins."""
    parts = tuple(Path(rel).parts)
    found = ("", "")
    for stanza in copyright_stanzas(text):
        if "Files" not in stanza or "License" not in stanza:
            continue
        if any(_pattern_matches(p, parts) for p in stanza["Files"].split()):
            found = (stanza["License"].split("\n")[0].strip(),
                     stanza.get("Copyright", "").split("\n")[0].strip())
    if not found[0]:
        found = (licence_of(text), "")
    return found


def size_of(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


def images(root: Path, sub: str, pattern: str = "*") -> list[Path]:
    base = root / sub
    if not base.exists():
        return []
    return sorted(p for p in base.rglob(pattern)
                  if p.suffix.lower() in IMAGE_EXT and p.is_file() and not p.is_symlink())


def big_enough(path: Path, least: int = MIN_SIDE) -> bool:
    try:
        return min(size_of(path)) >= least
    except Exception:  # noqa: BLE001 - any failure to read the package's photos means "not there"
        return False


# ------------------------------------------------------------------ selection
def select(roots: dict[str, Path]) -> tuple[list[Item], list[Item]]:
    """Pick the pictures of every package; return (items, sources of two-shot pairs)."""
    items: list[Item] = []

    def add(path, pkg, series, stem=None, lookalike="", same="", natural_only=False,
            natural_edit=""):
        if big_enough(path, MIN_SIDE_NATURAL if natural_only else MIN_SIDE):
            items.append(Item(path, pkg, slug(series), slug(stem or path.stem), slug(lookalike),
                              same=same, natural_only=natural_only, natural_edit=natural_edit))

    r = roots["gnome-backgrounds"]
    for p in images(r, "usr/share/backgrounds/gnome"):
        if p.stem.startswith("vnc"):
            continue
        design = re.sub(r"-[ld]$", "", p.stem)
        add(p, "gnome-backgrounds", f"gnome-{design}", p.stem, f"gnome-{design}")

    for p in images(roots["ukui-wallpapers"], "usr/share/backgrounds"):
        add(p, "ukui-wallpapers", f"ukui-{p.stem}", p.stem)

    for p in images(roots["xfdesktop4-data"], "usr/share/backgrounds/xfce"):
        add(p, "xfdesktop4-data", "xfce", p.stem, "xfce")

    for p in images(roots["sway-backgrounds"], "usr/share/backgrounds/sway"):
        w, h = size_of(p)  # one picture per aspect ratio; other aspects are re-layouts
        add(p, "sway-backgrounds", "sway", p.stem.replace("Sway_Wallpaper_", ""), "sway",
            same=f"sway-{round(w / h, 2)}")
        items[-1].variant = "sway"

    skip = re.compile(r"logo|glow|rocket|swirl|support|emblem|circle|bullet|box|entry|lock|throbber")
    for pkg in [p for p in roots if p == "desktop-base" or p.startswith("debian-edu-artwork")]:
        r = roots[pkg]
        for p in images(r, "usr/share/desktop-base") + images(r, "usr/share/plymouth/themes"):
            rel = str(p.relative_to(r))
            m = re.search(r"desktop-base/(?:debian-edu-)?([a-z]+)-theme/", rel) or \
                re.search(r"plymouth/themes/(?:debian-edu-)?([a-z]+)/", rel)
            if not m or skip.search(p.name):
                continue
            theme = {"buster": "futureprototype"}.get(m.group(1), m.group(1))
            same, how = theme_copy(theme, p, pkg)
            add(p, pkg, f"theme-{theme}", f"{pkg.split('-')[-1]}-{p.parent.name}-{p.stem}",
                f"theme-{theme}", same=same, natural_edit=how)
            if p.parent.name == "grub" and items and items[-1].path == p:
                items[-1].variant = f"grub-{theme}-{pkg}"  # 16x9 and 4x3 of one boot screen
        for p in images(r, "usr/share/plasma/look-and-feel"):
            add(p, pkg, "theme-plasma-preview", p.stem, "", same="theme-plasma-preview")

    r, pkg = roots["kstars-data"], "kstars-data"
    for p in images(r, "usr/share/kstars/kstarslite/qml/images", "splash_bg*"):
        add(p, pkg, "kstars-splash", p.stem.replace("@", "-"), "", same="kstars-splash")
    add(r / "usr/share/kstars/kstars.png", pkg, "kstars-logo", "kstars")
    for i in range(0, 36, 4):
        add(r / f"usr/share/kstars/textures/moon{i:02d}.png", pkg, "kstars-moon", f"moon{i:02d}",
            "kstars-moon")
    for name in ("neptune", "pluto", "saturn", "uranus"):
        add(r / f"usr/share/kstars/textures/{name}.png", pkg, "kstars-planets", name,
            "kstars-planets")
    items.extend(doc_screens(r, pkg, "usr/share/doc/HTML", "kstars", 45))
    items.extend(doc_screens(roots["marble-data"], "marble-data", "usr/share/doc/HTML",
                             "marble", 25))
    items.extend(doc_screens(roots["gnome-user-docs"], "gnome-user-docs", "usr/share/help",
                             "gnome-help", 20))

    r, pkg = roots["stellarium-data"], "stellarium-data"
    nebulae = [p for p in images(r, "usr/share/stellarium/nebulae/default") if big_enough(p)]
    nebulae = [p for p in nebulae if min(size_of(p)) >= 1000] + \
        [p for p in nebulae if min(size_of(p)) == 512][::20]
    nebulae = sorted(nebulae)[::2][:40]
    for i, p in enumerate(nebulae):
        add(p, pkg, f"nebulae-{i // 8}", p.stem, f"nebulae-{i // 8}")
    land = "usr/share/stellarium/landscapes"
    for name in ("gl1", "gl2", "gl3", "gl4"):
        add(r / f"{land}/garching/garching-{name}.png", pkg, "stellarium-garching", name,
            "stellarium-garching")
    for i in range(1, 9):
        add(r / f"{land}/hurricane/hurricane{i}.png", pkg, "stellarium-hurricane", f"h{i}",
            "stellarium-hurricane")
    for rel in ("ocean/ocean9.png", "guereins/guereinsb.png", "trees/trees_512.png",
                "mars/mars.png", "moon/apollo17.png"):
        add(r / land / rel, pkg, f"stellarium-{Path(rel).stem}", Path(rel).stem)
    tex = [p for p in images(r, "usr/share/stellarium/textures") if size_of(p) == (512, 256)]
    tex = [p for p in tex if p.stem not in ("nomap", "zodiacallight_2004")][::2]
    for i, p in enumerate(tex):
        add(p, pkg, f"planet-maps-{i // 6}", p.stem, f"planet-maps-{i // 6}")
    for name in ("moon.png", "moon_4k.jpg", "milkyway.png", "corona.png", "earth_cmap.png"):
        stem = Path(name).stem.split("_")[0]
        add(r / "usr/share/stellarium/textures" / name, pkg, f"stellarium-{stem}",
            Path(name).stem, same=f"stellarium-{stem}")
    for p in images(r, "usr/share/stellarium/models")[::2]:
        add(p, pkg, "stellarium-models", p.stem, "planet-maps-models")
    for culture, step in (("western", 8), ("greek_farnese", 6), ("arabic_al-sufi", 6),
                          ("chinese_contemporary", 10)):
        arts = [p for p in images(r, f"usr/share/stellarium/skycultures/{culture}")
                if p.parent.name == culture]
        for p in arts[::step]:
            add(p, pkg, f"sky-{culture}", p.stem, f"sky-{culture}")
    for p in images(roots["kstars-data"], "usr/share/kstars/skycultures/western"):
        add(p, "kstars-data", "sky-western", f"kstars-{p.stem}", "sky-western", natural_only=True)
    for p in images(r, "usr/share/stellarium/scenery3d/Sterngarten"):
        if p.stem.startswith(("Google", "Tafel", "Sterngarten_2")):
            add(p, pkg, f"stellarium-{p.stem}", p.stem)

    r, pkg = roots["tuxpaint-stamps-default"], "tuxpaint-stamps-default"
    for p in images(r, "usr/share/tuxpaint/stamps"):
        rel = p.relative_to(r / "usr/share/tuxpaint/stamps")
        if "cartoon" in rel.parts or "alphabets" in rel.parts:
            continue
        cat = rel.parts[0] if len(rel.parts) > 1 else "misc"
        # Some stamps ship a mirrored copy too: a natural mirror of the stamp.
        mirror = p.stem.endswith("_mirror")
        base = p.stem.removesuffix("_mirror")
        add(p, pkg, f"tux-{cat}", p.stem, f"tux-{cat}", same=f"tux-{cat}-{base}",
            natural_only=mirror, natural_edit="natural_mirror" if mirror else "")

    r, pkg = roots["gimp-data"], "gimp-data"
    add(r / "usr/share/gimp/2.0/images/gimp-splash.png", pkg, "gimp-splash", "splash")
    add(r / "usr/share/gimp/2.0/scripts/images/texture.jpg", pkg, "gimp-texture", "texture")
    add(r / "usr/share/gimp/2.0/scripts/images/beavis.jpg", pkg, "gimp-beavis", "beavis")

    r, pkg = roots["opencv-doc"], "opencv-doc"
    d = "usr/share/doc/opencv-doc/examples/data"
    groups = {"aero": ["aero1", "aero3"], "aloe": ["aloeL", "aloeR"], "graf": ["graf1", "graf3"],
              "chessboard": ["left01", "left02", "left05", "right01"],
              "suzanne": ["Blender_Suzanne1", "Blender_Suzanne2"],
              "text-blur": ["text_defocus", "text_motion"], "fruit": ["apple", "orange"],
              "pics": ["pic1", "pic2", "pic3", "pic4", "pic5", "pic6"]}
    for look, stems in groups.items():
        for s in stems:
            for p in images(r, d, f"{s}.*"):
                add(p, pkg, f"opencv-{look}", s, f"opencv-{look}")
    for p in images(r, "usr/share/doc/opencv-doc/opencv4/html"):
        add(p, pkg, "opencv-html", f"html-{p.parent.name}-{p.stem}", natural_only=True)
    for s in ("baboon", "building", "butterfly", "fruits", "home", "messi5", "smarties",
              "squirrel_cls", "starry_night", "sudoku", "board", "stuff", "licenseplate_motion",
              "ela_original", "chicky_512", "digits", "lena", "HappyFish", "mask"):
        for p in images(r, d, f"{s}.*"):
            add(p, pkg, f"opencv-{s}", s)

    r, pkg = roots["visp-images-data"], "visp-images-data"
    v = "usr/share/visp-images-data/ViSP-images"
    for p in images(r, f"{v}/Klimt") + images(r, f"{v}/Gaussian-filter"):
        if "sigma=5" in p.name or "sigma=7" in p.name:
            continue  # too blurred to ask anyone to match
        add(p, pkg, "visp-klimt", p.stem.replace("=", ""), same="visp-klimt")
    # (faces/1280px-Solvay... is another scan with another framing: left out as ambiguous)
    for p in images(r, f"{v}/Solvay"):
        add(p, pkg, "visp-solvay", p.stem, same="visp-solvay")
    # One rendered scene with another tag printed in it: two tags, each rendered at two sizes. The two
    # sizes of one tag are one picture (the 640x480 render shows all of the 1920x1080 one, with more floor
    # and sky: a natural crop, joined when SIFT maps one into the other); the two tags are lookalikes.
    for p in images(r, f"{v}/AprilTag/benchmark", "tag[13]6_*"):
        add(p, pkg, "visp-apriltag", p.stem, "visp-apriltag")
        if items and items[-1].path == p:
            items[-1].variant = "visp-apriltag-" + "-".join(p.stem.split("_")[:2])
    add(r / f"{v}/mire/mire.jpg", pkg, "visp-mire", "mire")

    r, pkg = roots["imagemagick-6-doc"], "imagemagick-6-doc"
    im6 = "usr/share/doc/imagemagick-6-common/html"
    for p in images(r, f"{im6}/images", "bluebells*"):
        tone = p.stem.split("_")[1]
        add(p, pkg, "im6-bluebells", p.stem, same="im6-bluebells",
            natural_edit="" if tone == "clipped" else f"natural_tone_{tone}")
    for p in images(r, f"{im6}/images", "wizard.*"):
        add(p, pkg, "im6-wizard", f"wizard-{p.suffix[1:]}", same="im6-wizard")
    add(r / f"{im6}/images/logo.png", pkg, "im6-logo", "logo", same="im6-logo")
    add(r / f"{im6}/images/logo.jpg", pkg, "im6-logo", "logo-small", same="im6-logo",
        natural_only=True, natural_edit="natural_thumbnail")
    for s in ("configure", "julia-set", "t-shirt", "piechart", "examples"):
        for p in images(r, f"{im6}/images", f"{s}.*"):
            add(p, pkg, f"im6-{s}", s)
    add(r / f"{im6}/www/Magick++/ImageMagick.png", pkg, "im6-logo", "imagemagick-pp",
        same="im6-logo", natural_edit="natural_crop")

    # Login screens: the wallpaper, and the theme's own preview of the login screen
    # (the wallpaper cropped to the screen, with a clock and a login box drawn on it).
    for pkg, theme, bg, preview in (
            ("sddm-theme-maldives", "maldives", "background.jpg", "maldives.jpg"),
            ("sddm-theme-maui", "maui", "background.png", "maui.jpg"),
            ("sddm-theme-debian-maui", "debian-maui", "background.png", ""),
            ("sddm-theme-elarun", "elarun", "images/background.png", "elarun.jpg")):
        d = roots[pkg] / "usr/share/sddm/themes" / theme
        key = f"sddm-{theme.removeprefix('debian-')}"
        add(d / bg, pkg, key, f"{theme}-background", same=key)
        if preview:
            add(d / preview, pkg, key, f"{theme}-preview", same=key, natural_only=True,
                natural_edit="natural_preview")
    add(roots["grub-theme-starfield"] / "usr/share/grub/themes/starfield/starfield.png",
        "grub-theme-starfield", "grub-starfield", "starfield")

    r, pkg = roots["frozen-bubble-data"], "frozen-bubble-data"
    for p in images(r, "usr/share/games/frozen-bubble/gfx"):
        if min(size_of(p)) >= 480:
            add(p, pkg, "frozen-bubble", p.stem, "frozen-bubble")

    r, pkg = roots["hugin-data"], "hugin-data"
    lookalikes = {"Big_ben": "hugin-bigben", "Medinet": "hugin-medinet", "Celeste": "hugin-celeste",
                  "CA_": "hugin-ca", "SB_": "hugin-sb", "Aliasing": "hugin-aliasing",
                  "Fast_preview": "hugin-fastpreview", "-distortion": "hugin-distortion",
                  "Vertical": "hugin-vertical", "Hugin2013": "hugin-screens"}
    helpdir = r / "usr/share/hugin/xrc/data/help_en_EN"
    # Left out as neither copies nor other pictures: zooms of a test picture, the same
    # crop with other colour fringes, a photo with spots added or with a lens warp.
    ambiguous = re.compile(r"_2x$|withdustspots|CA_tCA0[123]|CA_fringes01|CA_strange02|"
                           r"CA_artifical_R_C|SB_Parallax|Bubble-|Pincushion-")
    for p in images(r, "usr/share/hugin/xrc/data/help_en_EN"):
        if ambiguous.search(p.stem):
            continue
        if p.stem.startswith("Aliasing"):  # one photo resampled two ways: a natural copy
            other = p.stem != "AliasingPScubic"
            add(p, pkg, "hugin-aliasing", p.stem, "", same="hugin-aliasing", natural_only=other,
                natural_edit="natural_resample" if other else "")
            continue
        look = next((v for k, v in lookalikes.items() if k in p.stem), "")
        m = re.match(r"\d+px-(.+)$", p.name)
        if m and (helpdir / m.group(1)).exists():  # the manual's thumbnail of a picture
            full = m.group(1)
            add(p, pkg, look or f"hugin-{full[:20]}", p.stem, look, same=f"hugin-{full}",
                natural_only=True, natural_edit="natural_thumbnail")
        else:
            add(p, pkg, look or f"hugin-{p.stem[:20]}", p.stem, look, same=f"hugin-{p.name}")

    r, pkg = roots["inkscape-tutorials"], "inkscape-tutorials"
    for p in images(r, "usr/share/inkscape/tutorials"):
        name = p.stem.split(".")[0]
        if name in ("pixelart-dialog", "potrace"):
            add(p, pkg, f"inkscape-{name}", p.stem, f"inkscape-{name}")
        elif p.stem == "oldguitar":
            add(p, pkg, "inkscape-oldguitar", "oldguitar")

    r, pkg = roots["python-pygame-doc"], "python-pygame-doc"
    add(r / "usr/share/doc/python-pygame-doc/examples/data/fist.png", pkg, "pygame-fist", "fist")
    add(r / "usr/share/doc/python-pygame-doc/html/_images/introduction-Battleship.png", pkg,
        "pygame-battleship", "battleship")

    r, pkg = roots["xplanet-images"], "xplanet-images"
    for name in ("earth", "night"):
        add(r / f"usr/share/xplanet/images/{name}.jpg", pkg, "earth-maps", name, "earth-maps")

    # Two shots of one scene: large pictures used only as sources of new originals.
    sources = [
        (roots["kstars-data"] / "usr/share/kstars/geomap.jpg", "kstars-data"),
        (roots["stellarium-data"] / f"{land}/grossmugl/grossmugl_leeberg_crop11.25_2048.png",
         "stellarium-data"),
        (roots["ukui-wallpapers"] / "usr/share/backgrounds/rhythm.jpg", "ukui-wallpapers"),
        (roots["stellarium-data"] / "usr/share/stellarium/textures/milkyway.png", "stellarium-data"),
        (roots["gimp-data"] / "usr/share/gimp/2.0/images/gimp-splash.png", "gimp-data"),
    ]
    used = {s for s, _ in sources}
    items = [it for it in items if it.path not in used]
    shots = []
    for path, pkg in sources:
        if path.exists():
            shots.extend(two_shots(path, pkg))
    return items, shots


def theme_copy(theme: str, path: Path, pkg: str) -> tuple[str, str]:
    """Which pictures of a Debian desktop theme are one picture (judged by eye).

    The Debian and the Debian Edu boot screens of one theme and aspect ratio are
    the same art with another logo; "lines" fits one picture to every screen
    (crops, a logo, a login box); "joy"'s login preview is its background with
    a login box. Grub screens of another aspect ratio are re-layouts (the art
    and logo placed anew), so they are different pictures; so is Debian Edu's
    spacefun, drawn anew.
    """
    w, h = size_of(path)
    if theme == "lines":
        return "theme-lines", "" if "background" in path.stem else "natural_refit"
    if theme == "joy" and ("background" in path.stem or "sddm-preview" in path.stem):
        return "theme-joy-background", "natural_preview" if "preview" in path.stem else ""
    if path.parent.name == "grub" and theme != "spacefun":  # Debian Edu's spacefun is other art
        edu = pkg.startswith("debian-edu")
        return f"theme-{theme}-grub-{w / h:.2f}", "natural_other_logo" if edu else ""
    return "", ""


# Manual figures that are one picture shown several ways (found by eye).
DOC_COPIES = {
    # one robin photo under three colour profiles
    "figures/color-camera.png": ("gnome-help-robin", ""),
    "figures/color-display.png": ("gnome-help-robin", "natural_tone"),
    "figures/color-printer.png": ("gnome-help-robin", "natural_tone"),
}


def doc_screens(root: Path, pkg: str, sub: str, marker: str, pages: int) -> list[Item]:
    """UI screenshots of a manual: the English ones, and for some pages one translation.

    A translated screenshot is a different picture of the same dialog (a lookalike),
    unless it is the English one shipped again (found later as a natural copy).
    """
    by_page: dict[str, dict[str, Path]] = defaultdict(dict)
    for p in images(root, sub):
        parts = p.relative_to(root / sub).parts
        if marker not in parts or not big_enough(p):
            continue
        lang = parts[0]
        page = "/".join(parts[parts.index(marker) + 1:])
        by_page[page][lang] = p
    out = []
    english = [pg for pg in sorted(by_page) if any(k in by_page[pg] for k in ("en", "C"))]
    for i, page in enumerate(english[:pages]):
        langs = by_page[page]
        en = "en" if "en" in langs else "C"
        stem = slug(Path(page).with_suffix("").as_posix())
        series = f"{marker}-doc-{stem}"
        others = [k for k in sorted(langs) if k not in ("en", "C")]
        look = series if (others and i % 2 == 0) else ""
        same, how = DOC_COPIES.get(page, ("", ""))
        out.append(Item(langs[en], pkg, series, f"{stem}-{en}", look, same=same,
                        natural_edit=how))
        pick = others[i % len(others)] if look else None
        for k in others:
            out.append(Item(langs[k], pkg, series, f"{stem}-{k}", look, natural_only=k != pick))
    return out


def two_shots(path: Path, pkg: str) -> list[Item]:
    """Two framings of one scene that overlap 20-40% of their width, full height."""
    w, h = size_of(path)
    rng = bench_edits.rng_for(0, "two-shots", path.name)
    overlap = float(rng.uniform(0.2, 0.4))
    # two windows of width cw: overlap*cw shared, so the pair spans cw*(2-overlap) <= w
    cw = int(w / (2 - overlap))
    ch = int(h * rng.uniform(0.8, 1.0))
    ya, yb = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, h - ch + 1))
    xa = 0
    xb = int(cw * (1 - overlap))
    series = f"scene-{slug(path.stem)[:24]}"
    out = []
    for tag, (x, y) in (("a", (xa, ya)), ("b", (xb, yb))):
        it = Item(path, pkg, series, f"shot-{tag}", series, crop=(x, y, x + cw, y + ch))
        it.info = {"overlap": round(overlap, 3), "box": [x, y, x + cw, y + ch]}
        out.append(it)
    return out


# ------------------------------------------------------------------ loading
def load_upright(path: Path, crop=None) -> Image.Image:
    """RGB, EXIF-upright, alpha flattened on white."""
    with Image.open(path) as im:
        im = load_upright_image(ImageOps.exif_transpose(im))
    if crop is not None:
        im = im.crop(crop)
    return im


def normalise(im: Image.Image) -> Image.Image:
    if max(im.size) > MAX_SIDE:
        im = im.copy()
        im.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return im


def thumb(path: Path, crop=None) -> tuple[np.ndarray, np.ndarray, float, int]:
    """128x128 grey and 32x32 colour thumbnails, the aspect ratio and the pixel count."""
    im = load_upright(path, crop)
    w, h = im.size
    small = np.asarray(im.convert("L").resize((128, 128), Image.Resampling.BOX), np.float32)
    colour = np.asarray(im.resize((32, 32), Image.Resampling.BOX), np.float32)
    return small, colour, w / h, w * h


# ------------------------------------------------------------------ natural copies
def _chroma(rgb: np.ndarray) -> float:
    """Mean distance of the pixels from grey (0 for a greyscale picture)."""
    return float(np.abs(rgb - rgb.mean(axis=2, keepdims=True)).mean())


def natural_groups(items: list[Item], thumbs: np.ndarray, colours: np.ndarray,
                   aspects: np.ndarray, pixels: list[int]) -> tuple[np.ndarray, set]:
    """Union of pictures declared one (``Item.same``) or found to be the same pixels.

    Found: same aspect ratio (within 2%) and, on 128x128 grey thumbnails, a mean
    absolute difference below 3 grey levels and no 8x8 block differing by more
    than 8 on average (so a translated label or another tag is not "the same");
    unless one of the two is grey, their 32x32 colour thumbnails must also differ
    by less than 8 on average (so two colour fringes of one test chart are not).
    Pictures of one design at several aspect ratios (same ``Item.variant``)
    are joined when SIFT + RANSAC finds a similarity mapping one into the other
    (both are crops of one picture); a pair it cannot decide (too few features)
    is left out: the unions returned in ``dropped`` (the smaller of each pair).
    Elsewhere a different aspect ratio is never found the same.

    Returns the union root of each item and the set of roots left out.
    """
    n = len(items)
    parent = np.arange(n)

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    declared = defaultdict(list)
    for i, it in enumerate(items):
        if it.same:
            declared[it.same].append(i)
    for idx in declared.values():
        for j in idx[1:]:
            parent[find(j)] = find(idx[0])
    tiny = thumbs.reshape(n, 16, 8, 16, 8).mean(axis=(2, 4)).reshape(n, -1)
    log_aspect = np.log(aspects)
    for i in tqdm(range(n), desc="natural copies"):
        same = np.abs(log_aspect[i + 1:] - log_aspect[i]) < 0.02
        cand = np.nonzero(same)[0] + i + 1
        if len(cand) == 0:
            continue
        pre = np.abs(tiny[cand] - tiny[i]).mean(axis=1)
        for j in cand[pre < 6]:
            d = np.abs(thumbs[i] - thumbs[j])
            blocks = d.reshape(16, 8, 16, 8).mean(axis=(1, 3))
            if d.mean() < 3 and blocks.max() < 8:
                chroma = min(_chroma(colours[i]), _chroma(colours[j]))
                if chroma < 6 or np.abs(colours[i] - colours[j]).mean() < 8:
                    parent[find(j)] = find(i)

    # Wallpapers shipped at other aspect ratios: a crop of one common picture is the
    # same picture; a re-layout is another; a pair SIFT cannot tell is left out.
    tested = defaultdict(list)
    for i, it in enumerate(items):
        if it.variant and not it.natural_only:
            tested[it.variant].append(i)
    undecided, features = [], {}
    for idx in tested.values():
        for a, b in itertools.combinations(idx, 2):
            if find(a) == find(b) or abs(log_aspect[a] - log_aspect[b]) < 0.02:
                continue
            relation = crop_relation(items[a], items[b], features)
            if relation == "crop":
                parent[find(b)] = find(a)
            elif relation == "undecided":
                undecided.append((a, b))
    roots = np.array([find(i) for i in range(n)])
    dropped = set()
    for a, b in undecided:
        ra, rb = roots[a], roots[b]
        if ra != rb and not {ra, rb} & dropped:
            size = {r: max(pixels[i] for i in np.nonzero(roots == r)[0]) for r in (ra, rb)}
            dropped.add(min((ra, rb), key=lambda r: (size[r], r)))
    return roots, dropped


def crop_relation(a: Item, b: Item, cache: dict) -> str:
    """``crop`` if one picture maps into the other by a similarity (SIFT + RANSAC),
    ``different`` if they have features but no such map, else ``undecided``."""
    import cv2

    def feats(it):
        if it.name not in cache:
            im = np.asarray(load_upright(it.path, it.crop).convert("L"))
            scale = 800 / max(im.shape)
            im = cv2.resize(im, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            cache[it.name] = cv2.SIFT_create(4000).detectAndCompute(im, None)
        return cache[it.name]

    (ka, da), (kb, db) = feats(a), feats(b)
    if da is None or db is None or len(ka) < 10 or len(kb) < 10:
        return "undecided"
    pairs = cv2.BFMatcher().knnMatch(da, db, k=2)
    good = [m for m, *rest in pairs if rest and m.distance < 0.75 * rest[0].distance]
    if len(good) < 10:
        return "undecided"
    pa = np.float32([ka[m.queryIdx].pt for m in good])
    pb = np.float32([kb[m.trainIdx].pt for m in good])
    model, inliers = cv2.estimateAffinePartial2D(pa, pb, method=cv2.RANSAC,
                                                 ransacReprojThreshold=4)
    if model is None:
        return "different"
    scale = float(np.hypot(model[0, 0], model[0, 1]))
    if int(inliers.sum()) >= 10 and inliers.mean() >= 0.5 and 0.2 < scale < 5:
        return "crop"
    return "different"


# ------------------------------------------------------------------ edits
def _edit_one(task: tuple) -> list[dict]:
    photo_path, name, seed, out_dir, fonts, other_path, cache = task
    cache = Path(cache)
    if cache.exists():
        rows = json.loads(cache.read_text())
        if all((Path(out_dir).parent / r["file"]).exists() for r in rows):
            return rows
    im = Image.open(photo_path).convert("RGB")
    other = load_upright(Path(other_path)) if other_path else None
    rows = []
    for family, i, ed in bench_edits.make_edits(im, seed, name, fonts=fonts, other=other):
        fname = f"{name}__{family}{i}-{ed.edit}{ed.suffix}"
        ed.save(Path(out_dir) / fname)
        rows.append({"file": f"edits/{fname}", "family": family, "edit": ed.edit,
                     "params": json.dumps(ed.params, sort_keys=True)})
    cache.write_text(json.dumps(rows))
    return rows


def filler_images(roots: dict[str, Path]) -> list[Path]:
    """Small pictures that are not in the set, shown inside busy screenshots."""
    r = roots["tuxpaint-stamps-default"] / "usr/share/tuxpaint/stamps"
    out = [p for p in sorted(r.rglob("*.png")) if "cartoon" in p.parts]
    return out[::7]


# ------------------------------------------------------------------ split
FROZEN_SPLIT = Path(__file__).resolve().parent / "bench_split.csv"  # series -> half, as first tuned on


def assign_split(table: pd.DataFrame, frozen: dict[str, str] | None = None) -> dict[str, str]:
    """Split units (series joined by natural copies) to ``tune``/``report``.

    A unit whose series are in ``frozen`` (series -> half; by default
    ``bench_split.csv``, the halves the rules were first chosen on) stays in
    its half: once a half has been tuned on, no change of the labels or the
    pictures may move photos across (one did: joining two AprilTag renders
    as one picture changed the counts below and moved three series). The
    other units are assigned deterministically: in the order of a hash of
    their name; those with natural copies first, each to the half with fewer
    natural groups, then the rest to the half with fewer originals, so both
    halves get about half of the originals and of the natural groups.
    """
    if frozen is None:
        frozen = dict(pd.read_csv(FROZEN_SPLIT).itertuples(index=False)) if FROZEN_SPLIT.exists() else {}
    orig = table[table.kind == "original"].groupby("unit").size()
    nat = table[table.kind == "natural"].groupby("unit")["group"].nunique()
    count = {h: [0, 0] for h in ("tune", "report")}  # natural groups, originals
    split = {}

    def put(u: str, half: str) -> None:
        split[u] = half
        count[half][0] += int(nat.get(u, 0))
        count[half][1] += int(orig[u])

    for u in orig.index:
        halves = {frozen[s] for s in u.split("+") if s in frozen}
        if len(halves) > 1:
            raise ValueError(f"unit {u!r} joins series of both halves in {FROZEN_SPLIT.name}: a natural copy "
                             "now links a tuned series to a reported one; decide which half it belongs to there")
        if halves:
            put(u, halves.pop())
    order = sorted((u for u in orig.index if u not in split), key=lambda u: hashlib.sha256(u.encode()).hexdigest())
    order = [u for u in order if u in nat.index] + [u for u in order if u not in nat.index]
    for u in order:
        key = (lambda h: tuple(count[h])) if u in nat.index else (lambda h: count[h][1])
        put(u, min(("tune", "report"), key=key))
    return split


# ------------------------------------------------------------------ main
def build(out: Path, seed: int, workers: int) -> pd.DataFrame:
    Image.MAX_IMAGE_PIXELS = None  # the packages' own large wallpapers (set here, not on import)
    roots = fetch_packages(out, PACKAGES + tuple(sorted(set(COPYRIGHT_FROM.values()))))
    texts = {pkg: copyright_text(roots, pkg) for pkg in PACKAGES}
    licences = {pkg: licence_of(texts[pkg]) for pkg in PACKAGES}
    items, shots = select(roots)

    # Byte-identical files: keep the first.
    seen, unique = {}, []
    for it in tqdm(items, desc="hash files"):
        digest = hashlib.sha256(it.path.read_bytes()).hexdigest()
        if digest not in seen:
            seen[digest] = it
            unique.append(it)
    names = defaultdict(int)
    for it in unique + shots:
        names[it.name] += 1
        if names[it.name] > 1:
            it.stem = f"{it.stem}-{names[it.name]}"
    allitems = unique + shots

    thumbs, colours, aspects, pixels = [], [], [], []
    tdir = out / "cache" / "thumbs"
    tdir.mkdir(parents=True, exist_ok=True)
    for it in tqdm(allitems, desc="thumbnails"):
        key = hashlib.sha256(f"{it.path}|{it.crop}".encode()).hexdigest()[:24]
        cached = tdir / f"{key}-v2.npz"
        if cached.exists():
            z = np.load(cached)
            t, c, a, px = z["t"], z["c"], float(z["a"]), int(z["px"])
        else:
            t, c, a, px = thumb(it.path, it.crop)
            np.savez(cached, t=t, c=c, a=a, px=px)
        thumbs.append(t)
        colours.append(c)
        aspects.append(a)
        pixels.append(px)
    # Pictures that are (nearly) one flat colour once flattened on white (white-on-
    # transparent stamps, empty textures) are left out.
    keep = [i for i, t in enumerate(thumbs) if t.std() >= 1]
    if len(keep) < len(allitems):
        flat = sorted(set(range(len(allitems))) - set(keep))
        print(f"left out {len(flat)} flat pictures: " + ", ".join(allitems[i].name for i in flat),
              file=sys.stderr)
    allitems = [allitems[i] for i in keep]
    thumbs = [thumbs[i] for i in keep]
    colours = [colours[i] for i in keep]
    aspects = [aspects[i] for i in keep]
    pixels = [pixels[i] for i in keep]
    roots_of, dropped = natural_groups(allitems, np.stack(thumbs), np.stack(colours),
                                       np.array(aspects), pixels)
    for r in sorted(dropped):
        names = [it.name for it, ri in zip(allitems, roots_of) if ri == r]
        print(f"left out (crop or re-layout undecided): {', '.join(names)}", file=sys.stderr)

    # Group: one original per union (the largest), the others natural copies.
    members = defaultdict(list)
    for i, r in enumerate(roots_of):
        if r not in dropped:
            members[r].append(i)
    (out / "photos").mkdir(exist_ok=True)
    (out / "natural").mkdir(exist_ok=True)
    (out / "edits").mkdir(exist_ok=True)
    (out / "cache" / "edits").mkdir(parents=True, exist_ok=True)
    rows = []
    for idx in tqdm(members.values(), desc="originals"):
        real = [i for i in idx if not allitems[i].natural_only]
        if not real:
            continue
        orig = max(real, key=lambda i: (pixels[i], -i))
        o = allitems[orig]
        group = o.name
        series_set = sorted({allitems[i].series for i in idx})
        lookalike = next((allitems[i].lookalike for i in idx if allitems[i].lookalike), "")
        photo = out / "photos" / f"{o.name}.jpg"
        if not photo.exists():
            normalise(load_upright(o.path, o.crop)).save(photo, "JPEG", quality=95)
        src = str(o.path.relative_to(out / "cache" / "unpacked" / o.package))
        lic, holder = licence_for(texts[o.package], src)
        info = {"source": src, "copyright": holder}
        info.update(o.info)
        rows.append(dict(file=f"photos/{photo.name}", group=group, kind="original",
                         family="original", edit="original", params=json.dumps(info),
                         lookalike=lookalike, series=o.series, package=o.package, licence=lic,
                         unit="+".join(series_set)))
        for i in idx:
            if i == orig:
                continue
            it = allitems[i]
            dest = out / "natural" / f"{it.name}{it.path.suffix.lower()}"
            if not dest.exists():
                shutil.copyfile(it.path, dest)
            w, h = size_of(it.path)
            src = str(it.path.relative_to(out / "cache" / "unpacked" / it.package))
            lic, holder = licence_for(texts[it.package], src)
            rows.append(dict(file=f"natural/{dest.name}", group=group, kind="natural",
                             family="natural", edit=it.natural_edit or natural_kind(it, o),
                             params=json.dumps({"source": src, "size": [w, h],
                                                "copyright": holder}),
                             lookalike=lookalike, series=it.series, package=it.package,
                             licence=lic,
                             unit="+".join(series_set)))
    table = pd.DataFrame(rows)
    # A unit is a set of series joined by natural copies; join units that share a series.
    unit_of = _join_units(table["unit"])
    table["unit"] = table["unit"].map(unit_of)

    fonts = bench_edits.find_fonts()
    fillers = filler_images(roots)
    originals = table[table.kind == "original"]
    tasks = []
    for k, (_, r) in enumerate(originals.iterrows()):
        name = Path(r.file).stem
        other = str(fillers[k % len(fillers)]) if fillers else None
        tasks.append((str(out / r.file), name, seed, str(out / "edits"), fonts, other,
                      str(out / "cache" / "edits" / f"{name}.v{EDITS_VERSION}.json")))
    edit_rows = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = pool.map(_edit_one, tasks, chunksize=2)
        for (_, r), got in tqdm(zip(originals.iterrows(), results), total=len(tasks), desc="edits"):
            for e in got:
                edit_rows.append(dict(e, group=r.group, kind="edit", lookalike=r.lookalike,
                                      series=r.series, package=r.package, unit=r.unit,
                                      licence=r.licence))
    table = pd.concat([table, pd.DataFrame(edit_rows)], ignore_index=True)
    split = assign_split(table)
    table["split"] = table["unit"].map(split)
    cols = ["file", "group", "kind", "family", "edit", "params", "lookalike", "series",
            "package", "licence", "split"]
    table = table[cols].sort_values(["split", "series", "group", "kind", "file"],
                                    key=lambda s: s.map({"original": 0, "natural": 1, "edit": 2})
                                    if s.name == "kind" else s)
    listed = set(table.file)
    stale = [f for d in ("photos", "natural", "edits") for f in (out / d).iterdir()
             if f"{d}/{f.name}" not in listed]
    for f in stale:  # left by an earlier build with other rules
        f.unlink()
    table.to_csv(out / "truth.csv", index=False)
    (out / "summary.json").write_text(json.dumps(summary(table, licences), indent=2))
    return table


def natural_kind(copy: Item, orig: Item) -> str:
    """How a found natural copy differs from its original: size, encoding, or bytes only."""
    if copy.crop is None and orig.crop is None:
        wc, hc = size_of(copy.path)
        wo, ho = size_of(orig.path)
        if abs(np.log((wc / hc) / (wo / ho))) >= 0.02:
            return "natural_crop"
        if (wc, hc) != (wo, ho):
            return "natural_resize"
    if copy.path.suffix.lower() != orig.path.suffix.lower():
        return "natural_reencode"
    with Image.open(copy.path) as a, Image.open(orig.path) as b:
        if a.mode != b.mode:
            return "natural_mode"
    return "natural_resave"


def _join_units(units: pd.Series) -> dict[str, str]:
    parent: dict[str, str] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for u in units.unique():
        parts = u.split("+")
        for p in parts[1:]:
            a, b = find(parts[0]), find(p)
            if a != b:
                parent[max(a, b)] = min(a, b)
        find(parts[0])
    return {u: find(u.split("+")[0]) for u in units.unique()}


def summary(table: pd.DataFrame, licences: dict[str, str]) -> dict:
    orig = table[table.kind == "original"]
    look = orig[orig.lookalike != ""].groupby("lookalike")["group"].nunique()
    in_sets = orig[orig.lookalike.isin(look[look >= 2].index)]
    nat = table[table.kind == "natural"]
    return {
        "files": int(len(table)),
        "groups": int(table.group.nunique()),
        "by_kind": table.kind.value_counts().to_dict(),
        "by_family": table.family.value_counts().to_dict(),
        "by_edit": table.edit.value_counts().to_dict(),
        "by_split": {s: {"files": int(len(t)), "originals": int((t.kind == "original").sum()),
                         "natural_groups": int(t[t.kind == "natural"].group.nunique())}
                     for s, t in table.groupby("split")},
        "by_split_family": {s: t.family.value_counts().to_dict() for s, t in table.groupby("split")},
        "natural_groups": int(nat.group.nunique()),
        "natural_groups_by_edit": nat.groupby("edit").group.nunique().to_dict(),
        "originals_in_lookalike_sets": int(len(in_sets)),
        "originals_in_lookalike_sets_frac": round(len(in_sets) / max(1, len(orig)), 3),
        "lookalike_sets": {k: int(v) for k, v in look.items()},
        "by_package": orig.package.value_counts().to_dict(),
        "licences": licences,
    }


def contact_sheet(out: Path, files: list[str], labels: list[str], dest: Path,
                  *, cols: int = 8, tile: int = 200) -> Path:
    """A PNG mosaic of ``files`` (relative to ``out``) with a label under each."""
    from PIL import ImageDraw

    rows = (len(files) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * tile, rows * (tile + 26)), (128, 128, 128))
    draw = ImageDraw.Draw(sheet)
    for k, (f, label) in enumerate(zip(files, labels)):
        im = ImageOps.exif_transpose(Image.open(out / f))
        im = load_upright_image(im)
        im.thumbnail((tile, tile))
        x, y = (k % cols) * tile, (k // cols) * (tile + 26)
        sheet.paste(im, (x + (tile - im.width) // 2, y + (tile - im.height) // 2))
        for i, line in enumerate((label[:34], label[34:68])):
            draw.text((x + 2, y + tile + 1 + 12 * i), line, fill=(0, 0, 0))
    dest.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(dest)
    return dest


def load_upright_image(im: Image.Image) -> Image.Image:
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        bg.alpha_composite(im)
        im = bg
    return im.convert("RGB")


def sheets(out: Path, table: pd.DataFrame, seed: int) -> list[Path]:
    """Contact sheets to look at: originals, edits, lookalike sets, natural groups."""
    rng = np.random.default_rng(seed)
    done = []
    orig = table[table.kind == "original"]
    pick = orig.iloc[np.sort(rng.choice(len(orig), size=min(48, len(orig)), replace=False))]
    done.append(contact_sheet(out, list(pick.file), [f"{r.series} {r.lookalike and '[' + r.lookalike + ']'}"
                                                    for r in pick.itertuples()],
                              out / "sheets" / "originals.png"))
    ed = table[table.kind == "edit"]
    pick = ed.iloc[np.sort(rng.choice(len(ed), size=min(48, len(ed)), replace=False))]
    files, labels = [], []
    for r in pick.itertuples():
        files += [f"photos/{r.group}.jpg", r.file]
        labels += [r.group, f"{r.family}/{r.edit}"]
    done.append(contact_sheet(out, files, labels, out / "sheets" / "edits.png"))
    for fam in ("frame", "crop", "mild"):
        sub = ed[ed.family == fam]
        pick = sub.iloc[np.sort(rng.choice(len(sub), size=min(40, len(sub)), replace=False))]
        done.append(contact_sheet(out, list(pick.file), [f"{r.edit} {r.group}" for r in pick.itertuples()],
                                  out / "sheets" / f"edits-{fam}.png"))
    look = orig[orig.lookalike != ""].sort_values(["lookalike", "file"])
    done.append(contact_sheet(out, list(look.file), [f"[{r.lookalike}] {r.group.split('__')[1]}"
                                                     for r in look.itertuples()],
                              out / "sheets" / "lookalikes.png", cols=12, tile=150))
    nat = table[table.group.isin(table[table.kind == "natural"].group) & (table.kind != "edit")]
    nat = nat.sort_values(["group", "kind"])
    done.append(contact_sheet(out, list(nat.file), [f"{r.kind} {Path(r.file).name}" for r in nat.itertuples()],
                              out / "sheets" / "natural.png", cols=10, tile=150))
    return done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench-data", type=Path)
    ap.add_argument("--seed", default=0, type=int)
    ap.add_argument("--workers", default=2, type=int)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    table = build(args.out.resolve(), args.seed, args.workers)
    for path in sheets(args.out.resolve(), table, args.seed):
        print(f"contact sheet: {path}")
    print(json.dumps(summary(table, {})["by_kind"]))
    print(f"wrote {args.out / 'truth.csv'} ({len(table)} rows) and {args.out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
