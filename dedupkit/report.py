"""A report to share: one self-contained HTML page of what was found.

The page holds everything it shows (thumbnails as ``data:`` URIs, inline CSS,
no script), so it can be mailed or opened on a machine without the images or
the internet: a summary, the groups as galleries (largest first) with the kept
file marked and why, the weakest links, and the files that could not be read.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from ._checks import check_int
from ._keys import is_elsewhere, locate
from .loading import ImageLoadError
from .opener import image_file
from .thumbnails import prefetch, thumbnail

__all__ = ["write_report"]

_MEMBERS_SHOWN = 60  # per group; a larger group says how many more it has


def write_report(
    groups: pd.DataFrame,
    *,
    pairs: pd.DataFrame | None = None,
    hashes: pd.DataFrame | None = None,
    root: str | os.PathLike | None = None,
    path: str | os.PathLike = "report.html",
    thumb_size: int = 200,
    max_groups: int = 100,
    weakest: int = 12,
    settings: Mapping[str, object] | None = None,
) -> Path:
    """Write one self-contained HTML page of the groups, the weakest links and the unreadable files.

    Parameters
    ----------
    groups
        A group table (:func:`dedupkit.find_groups`): ``group``, ``path``,
        ``keep``, and if present ``size``, ``link_distance``, ``keep_reason``.
    pairs
        The pair table the groups came from (:func:`dedupkit.find_duplicates`;
        with a ``verified`` column, only its rows where that is true count):
        counted in the summary, and its weakest pairs shown side by side
        (largest hash distance first, a crop-only pair's ``-1`` counting as
        beyond every threshold; then lowest ``similarity``).
    hashes
        The hash table (:func:`dedupkit.hash_images`): the files scanned, the
        ones that could not be read and why, each file's size in pixels and
        bytes, and its ``attrs`` settings. Without it, those facts are read
        from the group members' files (:func:`dedupkit.file_facts`).
    root
        The folder that relative paths in the tables are relative to (the
        ``DIR`` of ``dedupkit find``, whose CSV files hold paths relative to
        it); default: the current folder. Paths are shown as the tables hold
        them.
    path
        The HTML file to write (its folder is made if missing).
    thumb_size
        Longest side of each thumbnail, in pixels (at least 8).
    max_groups
        Most groups shown (the largest); the page says when there are more.
        Each group shows at most 60 members.
    weakest
        How many weakest links to show (0 for none).
    settings
        Settings to list in the summary besides those in ``hashes.attrs``
        (e.g. ``{"max distance": 16}``).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    TypeError
        ``groups``, ``pairs`` or ``hashes`` is not a DataFrame.
    ValueError
        A table lacks a column it needs; ``thumb_size`` below 8;
        ``max_groups`` or ``weakest`` negative.

    Examples
    --------
    >>> hashes = dedupkit.hash_images("data/sample")  # doctest: +SKIP
    >>> pairs = dedupkit.find_duplicates(hashes)  # doctest: +SKIP
    >>> groups = dedupkit.find_groups(pairs, hashes)  # doctest: +SKIP
    >>> write_report(groups, pairs=pairs, hashes=hashes, path="out/report.html")  # doctest: +SKIP
    PosixPath('out/report.html')
    """
    _check_table(groups, "groups", ("group", "path", "keep"))
    _check_table(pairs, "pairs", ("path_a", "path_b", "distance"))
    _check_table(hashes, "hashes", ("path", "error"))
    for name, value, least in (("thumb_size", thumb_size, 8), ("max_groups", max_groups, 0), ("weakest", weakest, 0)):
        check_int(value, name, low=least)
    base = os.fspath(root) if root is not None else ""
    facts = _facts(groups, hashes, base)
    verified = None
    if pairs is not None:
        verified = pairs[pairs["verified"].eq(True)] if "verified" in pairs.columns else pairs
    heads = groups.drop_duplicates("group").assign(_n=groups.groupby("group")["path"].transform("size"))
    order = heads.sort_values(["_n", "group"], ascending=[False, True])["group"].tolist()
    shown = order[:max_groups]
    links = _weakest(verified, weakest) if verified is not None else None

    paths = groups.loc[groups["group"].isin(shown), "path"].astype(str).tolist()
    if links is not None:
        paths += links["path_a"].astype(str).tolist() + links["path_b"].astype(str).tolist()
    prefetch([locate(base, p) for p in paths], size=thumb_size)
    ctx = _Context(base, facts, thumb_size, _pair_lookup(verified))

    body = [f"<h1>Duplicate images{' in ' + _e(root) if root is not None else ''}</h1>",
            _summary(groups, verified, hashes, facts, {**_attrs_settings(hashes), **(settings or {})}),
            '<nav><a href="#groups">Groups</a> <a href="#weakest">Weakest links</a> '
            '<a href="#unreadable">Could not be read</a></nav>',
            '<h2 id="groups">Groups <small>largest first; the kept file is marked</small></h2>']
    if len(shown) < len(order):
        body.append(f'<p class="capped">Showing the {len(shown)} largest of {len(order)} groups.</p>')
    if not order:
        body.append("<p>No duplicates were found.</p>")
    members = dict(tuple(groups.groupby("group", sort=False)))
    body.append('<div class="cards">' + "".join(_group(number, members[number], ctx) for number in shown) + "</div>")
    body.append('<h2 id="weakest">Weakest links <small>the verified pairs least alike: look at these '
                'first</small></h2>')
    if links is None:
        body.append("<p>No pair table was given.</p>")
    elif links.empty:
        body.append("<p>No verified pairs.</p>")
    if links is not None:
        body.append('<div class="cards">' + "".join(_link(row, ctx) for row in links.to_dict("records")) + "</div>")
    body.append(_unreadable(hashes))
    made = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    body.append(f"<footer>Made by dedupkit on {_e(made)}. Nothing was deleted or moved.</footer>")

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
                   f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
                   f"<title>dedupkit report</title>\n<style>{_CSS}</style></head>\n<body>\n"
                   + "\n".join(body) + "\n</body></html>\n", encoding="utf-8")
    return out


class _Context:
    """What every gallery cell needs: where files are, their facts, the thumbnail size, the pairs."""

    def __init__(self, base: str, facts: pd.DataFrame, size: int, pairs: dict) -> None:
        self.base, self.facts, self.size, self.pairs = base, facts, size, pairs

    def figure(self, path: str, classes: str, note: str) -> str:
        fact = self.facts.loc[path] if path in self.facts.index else None
        problem = None
        if not _present(locate(self.base, path)):
            problem = "file missing"
        elif fact is not None and isinstance(fact.get("error"), str):
            problem = f"could not be read: {fact['error']}"
        width, height, n_bytes = (fact.get(k) if fact is not None else None for k in ("width", "height", "bytes"))
        size_px = f"{int(width)} × {int(height)} px" if pd.notna(width) and pd.notna(height) else "size unknown"
        size_b = _human_bytes(n_bytes) if pd.notna(n_bytes) else ""
        facts = " · ".join(s for s in (size_px, size_b) if s)
        trouble = f'<span class="problem">{_e(problem)}</span>' if problem else ""
        return (f'<figure class="{classes}{" unreadable" if problem else ""}" data-path="{_e(path)}">'
                f'<div class="frame"><img src="{_data_uri(thumbnail(locate(self.base, path), size=self.size))}" '
                f'alt="{_e(path)}"></div><figcaption><span class="path">{_e(path)}</span>'
                f'<span class="facts">{_e(facts)}</span>{trouble}{note}</figcaption></figure>')


def _group(number, members: pd.DataFrame, ctx: _Context) -> str:
    keys = ["keep", *(["link_distance"] if "link_distance" in members else []), "path"]
    members = members.sort_values(keys, ascending=[False] + [True] * (len(keys) - 1))
    kept = members.loc[members["keep"].astype(bool), "path"].astype(str).tolist()
    cells = []
    for row in members.head(_MEMBERS_SHOWN).to_dict("records"):
        path = str(row["path"])
        reason = row.get("keep_reason")
        reason = _e(reason) if isinstance(reason, str) else "kept"
        if row["keep"]:
            note = f'<span class="badge">KEPT</span><span class="why">{reason}</span>'
            cells.append(ctx.figure(path, "member kept", note))
            continue
        detail = []
        if pd.notna(row.get("link_distance")):
            detail.append(f"distance {int(row['link_distance'])}")
        pair = ctx.pairs.get(frozenset((path, kept[0]))) if kept else None
        if pair is not None and pd.notna(pair.get("similarity")):
            detail.append(f"similarity {float(pair['similarity']):.3f}")
        cells.append(ctx.figure(path, "member", f'<span class="copy">copy of the kept file'
                                                f'{": " + _e(", ".join(detail)) if detail else ""}</span>'))
    more = len(members) - _MEMBERS_SHOWN
    extra = f'<p class="capped">… and {more} more files in this group.</p>' if more > 0 else ""
    diameter = members["diameter"].iloc[0] if "diameter" in members else None
    wide = f" · diameter {int(diameter)}" if diameter is not None and pd.notna(diameter) else ""
    return (f'<section class="group" id="group-{_e(number)}" data-group="{_e(number)}">'
            f"<h3>Group {_e(number)} <small>{len(members)} files · {len(members) - len(kept)} could be removed"
            f"{wide}</small></h3>"
            f'<div class="gallery">{"".join(cells)}</div>{extra}</section>')


def _link(row: dict, ctx: _Context) -> str:
    numbers = [("hash distance", row.get("distance"), 0, ""), ("similarity", row.get("similarity"), 3, ""),
               ("scale", row.get("scale"), 2, ""), ("rotation", row.get("rotation"), 1, "°"),
               ("B shows", _percent(row.get("coverage_a")), 0, "% of A"),
               ("A fills", _percent(row.get("coverage_b")), 0, "% of B")]
    stats = ""
    for name, value, digits, unit in numbers:
        if value is None or pd.isna(value):
            continue
        shown = f"{round(float(value), digits) + 0.0:.{digits}f}{unit}"  # + 0.0: no "-0.0"
        if name == "hash distance" and value == -1:
            shown = "none (a crop candidate)"
        stats += f"<dt>{name}</dt><dd>{shown}</dd>"
    if isinstance(row.get("reason"), str) and row["reason"]:
        stats += f"<dt>note</dt><dd>{_e(row['reason'])}</dd>"
    return (f'<div class="pair"><div class="gallery">{ctx.figure(str(row["path_a"]), "member", _AB.format("A"))}'
            f'{ctx.figure(str(row["path_b"]), "member", _AB.format("B"))}</div><dl>{stats}</dl></div>')


_AB = '<span class="copy">{}</span>'


def _percent(value):
    return None if value is None or pd.isna(value) else 100 * float(value)


def _summary(groups, verified, hashes, facts, settings: Mapping[str, object]) -> str:
    removable = groups.loc[~groups["keep"].astype(bool), "path"].astype(str)
    n_bytes = facts["bytes"].reindex(removable).dropna() if "bytes" in facts else pd.Series(dtype=float)
    stats = []
    if hashes is not None:
        stats += [("files_scanned", len(hashes), "files scanned"),
                  ("unreadable", int(hashes["error"].notna().sum()), "could not be read")]
    if verified is not None:
        stats.append(("pairs", len(verified), "verified pairs" if "verified" in verified else "pairs"))
    stats += [("groups", groups["group"].nunique(), "groups"),
              ("files_removable", len(removable), "files could be removed"),
              ("bytes_removable", int(n_bytes.sum()), "could be freed"
               + (f" ({len(removable) - len(n_bytes)} sizes unknown)" if len(n_bytes) < len(removable) else ""))]
    cells = "".join(f'<div class="stat" data-stat="{key}" data-value="{value}"><b>'
                    f'{_human_bytes(value) if key == "bytes_removable" else f"{value:,}"}</b> {_e(label)}</div>'
                    for key, value, label in stats)
    listed = " · ".join(f"{_e(k)}: {_e(v)}" for k, v in settings.items())
    return (f'<section id="summary"><div class="stats">{cells}</div>'
            f'<p class="settings">Settings: {listed or "not recorded"}</p></section>')


def _unreadable(hashes: pd.DataFrame | None) -> str:
    head = '<h2 id="unreadable">Could not be read</h2>'
    if hashes is None:
        return head + "<p>No hash table was given.</p>"
    failed = hashes[hashes["error"].notna()]
    if failed.empty:
        return head + "<p>Every file was read.</p>"
    rows = "".join(f'<tr><td class="path">{_e(p)}</td><td>{_e(e)}</td></tr>'
                   for p, e in zip(failed["path"], failed["error"]))
    return head + f'<table class="errors"><tr><th>file</th><th>why</th></tr>{rows}</table>'


def _weakest(pairs: pd.DataFrame, n: int) -> pd.DataFrame:
    distance = pairs["distance"].astype(float).where(pairs["distance"] >= 0, np.inf)
    similarity = pairs["similarity"].astype(float) if "similarity" in pairs else pd.Series(np.nan, pairs.index)
    keys = pd.DataFrame({"d": distance, "s": similarity})
    return pairs.loc[keys.sort_values(["d", "s"], ascending=[False, True], na_position="last").index[:n]]


def _present(key: str) -> bool:
    """Whether the image is there: a file; a URL, a shard member or a table row is taken to be (not read here)."""
    try:
        target = image_file(key, fetch=False)
    except ImageLoadError:  # a row without an image: its error is shown from the hash table
        return True
    return not isinstance(target, str) or is_elsewhere(target) or os.path.isfile(target)


def _facts(groups: pd.DataFrame, hashes: pd.DataFrame | None, base: str) -> pd.DataFrame:
    """Width, height, bytes and error per path: from the hash table, else read from the members' files."""
    if hashes is not None:
        table = hashes.assign(path=hashes["path"].astype(str))
    else:
        from .keep import file_facts  # noqa: PLC0415 - reads every file: only without a hash table

        paths = groups["path"].astype(str).drop_duplicates().tolist()
        table = file_facts([locate(base, p) for p in paths], detail=False).assign(path=paths)
    columns = [c for c in ("width", "height", "bytes", "error") if c in table]
    return table.drop_duplicates("path").set_index("path")[columns]


def _pair_lookup(pairs: pd.DataFrame | None) -> dict:
    if pairs is None:
        return {}
    return {frozenset((str(r["path_a"]), str(r["path_b"]))): r for r in pairs.to_dict("records")}


def _attrs_settings(hashes: pd.DataFrame | None) -> dict:
    """The hashing settings a hash table carries (:func:`dedupkit.hash_settings`), in words."""
    from .tables import hash_settings  # noqa: PLC0415

    attrs = (hash_settings(hashes, required=False) or {}) if hashes is not None else {}
    settings = {}
    if "method" in attrs:
        bits = f", {attrs['hash_size'] ** 2} bits" if isinstance(attrs.get("hash_size"), int) else ""
        settings["hash"] = f"{attrs['method']}{bits}"
    if "trim" in attrs:
        settings["borders trimmed"] = "yes" if attrs["trim"] else "no"
    return settings


def _check_table(table, name: str, columns: tuple[str, ...]) -> None:
    if table is None and name != "groups":
        return
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"the {name} table needs columns {list(columns)}; missing {missing}")


def _data_uri(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array)).save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _human_bytes(n) -> str:
    n = float(n)
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2330;
       background: #f4f5f7; margin: 0 auto; max-width: 1320px; padding: 24px; }
h1 { font-size: 26px; margin: 0 0 16px; } h2 { margin: 36px 0 12px; border-bottom: 2px solid #d8dce3; }
h2 small, h3 small { font-weight: normal; color: #5d6675; font-size: 14px; margin-left: 8px; }
h3 { font-size: 16px; margin: 0 0 10px; }
nav a { margin-right: 16px; color: #2458c6; }
.stats { display: flex; flex-wrap: wrap; gap: 12px; }
.stat { background: #fff; border-radius: 8px; padding: 10px 16px; box-shadow: 0 1px 2px #0002; }
.stat b { display: block; font-size: 24px; }
.settings { color: #5d6675; }
.capped { color: #8a5300; font-style: italic; }
.cards { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
.group, .pair { background: #fff; border-radius: 10px; padding: 12px; box-shadow: 0 1px 3px #0002; }
.gallery { display: flex; flex-wrap: wrap; gap: 10px; }
figure { margin: 0; border: 3px solid #e3e6eb; border-radius: 8px; padding: 6px; background: #fafbfc;
         width: 176px; box-sizing: border-box; }
figure.kept { border-color: #1f9d55; background: #eefaf2; }
.frame { height: 168px; display: flex; align-items: center; justify-content: center; }
.frame img { max-width: 100%; max-height: 168px; }
figcaption span { display: block; font-size: 13px; overflow-wrap: anywhere; }
.path { font-family: ui-monospace, Menlo, Consolas, monospace; font-weight: 600; }
.facts, .copy { color: #5d6675; }
.badge { display: inline-block !important; background: #1f9d55; color: #fff; font-weight: 700;
         border-radius: 4px; padding: 1px 8px; margin: 4px 0 2px; letter-spacing: .05em; }
.why { color: #176c3b; }
.problem { color: #b42318; font-weight: 600; }
figure.unreadable { border-color: #e8a09a; }
.pair dl { margin-top: 8px; }
dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; margin: 0; font-size: 14px; }
dt { color: #5d6675; } dd { margin: 0; font-weight: 600; }
table.errors { border-collapse: collapse; background: #fff; width: 100%; }
.errors th, .errors td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #e3e6eb; }
footer { margin-top: 40px; color: #5d6675; font-size: 13px; }
"""
