"""Review duplicate groups in JupyterLab: a widget that writes every decision to ``decisions.csv`` as it is made.

:func:`review` shows one group (or a page of groups) at a time, widest,
largest or least certain first: each file's thumbnail with its name, size in
pixels, format, file size and date, the kept file framed in green with the
rule that chose it. Click, or press a key with the mouse over the widget, to
keep or remove a file, to split a picture off its group ("not a duplicate"),
or to accept the group as proposed. Each decision goes to
``output_dir/decisions.csv`` through :class:`dedupkit.DecisionLog` (on disk
before the click returns); a widget opened again on the same folder shows
the decided groups as decided and starts at the first undecided one.

It needs ipywidgets and ipyevents: ``pip install "dedupkit[notebook]"``.
"""

from __future__ import annotations

import datetime
import html
import io
import os
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ._checks import check_int
from .decisions import DecisionLog, apply_decisions, distinct_pairs, identities, left_in_group

try:
    import ipyevents
    import ipywidgets as widgets
except ImportError as error:  # pragma: no cover - the notebook extra not installed
    raise ImportError(f"dedupkit.review needs ipywidgets and ipyevents ({error.name} is missing): "
                      'pip install "dedupkit[notebook]"') from error

__all__ = ["KEYS", "ORDERS", "Review", "review"]

#: How the groups can be ordered: by diameter, by size, by weakest link (largest ``link_distance``), or as numbered.
ORDERS = ("widest", "largest", "uncertain", "group")

#: What each key does while the mouse is over the widget.
KEYS = {"ArrowRight": "next", "j": "next", "ArrowLeft": "previous", "k": "previous", " ": "toggle",
        "n": "split", "a": "accept", "Enter": "accept", **{str(d): "select" for d in range(1, 10)}}

_KEPT, _REMOVED, _SPLIT, _SELECTED = "#2e7d32", "#c62828", "#9e9e9e", "#1565c0"
_CSS = """<style>
.dk-review {font-family: var(--jp-ui-font-family, sans-serif); gap: 6px;}
.dk-review .dk-head {font-size: 15px; line-height: 1.5;}
.dk-review .dk-help {color: #666; font-size: 12px;}
.dk-review .dk-card {background: var(--jp-layout-color1, white); border-radius: 6px;}
.dk-review .dk-card .widget-image {object-fit: contain;}
.dk-review .dk-split img {opacity: 0.35;}
.dk-review .dk-info {font-size: 13px; line-height: 1.5;}
.dk-review .dk-info b {overflow-wrap: anywhere;}
.dk-review .dk-badge {color: white; border-radius: 3px; padding: 0 5px; font-weight: bold;}
.dk-review .dk-selected-mark {box-shadow: 0 0 0 3px #1565c0;}
</style>"""


def review(groups: pd.DataFrame, *, root: str | os.PathLike | None = None, output_dir: str | os.PathLike = "out",
           order: str = "widest", page_size: int = 1, thumb_size: int = 288) -> Review:
    """A widget to review duplicate groups, writing each decision to ``output_dir/decisions.csv`` at once.

    Parameters
    ----------
    groups
        A group table (:func:`dedupkit.find_groups`): ``group``, ``path``,
        ``keep``, ``size``, ``diameter``, ``link_distance`` (and ``keep_reason``).
    root
        The folder the table's relative paths are in; default: the current directory.
    output_dir
        Where ``decisions.csv`` is (created if missing; the decisions already
        in it are shown, and the review starts at the first undecided group).
    order
        ``"widest"`` (largest diameter first), ``"largest"`` (most files
        first), ``"uncertain"`` (weakest link first: the largest
        ``link_distance``) or ``"group"`` (by group number).
    page_size
        Groups shown at once.
    thumb_size
        Longest side of the thumbnails, in pixels.

    Returns
    -------
    Review
        An ipywidgets container: display it (the last line of a cell). Its
        :attr:`Review.decisions` is the group table with the decisions applied.

    Raises
    ------
    ImportError
        ipywidgets or ipyevents is missing (``pip install "dedupkit[notebook]"``).
    ValueError
        ``order`` is not one of :data:`ORDERS`, ``page_size`` or ``thumb_size``
        is too small, or ``groups`` lacks a column.

    Examples
    --------
    >>> widget = review(groups, root="photos", output_dir="out")  # doctest: +SKIP
    >>> widget  # doctest: +SKIP
    >>> widget.decisions.query("not keep")  # doctest: +SKIP
    """
    return Review(groups, root=root, output_dir=output_dir, order=order, page_size=page_size, thumb_size=thumb_size)


class Review(widgets.VBox):
    """The review widget (see :func:`review`): a VBox of the page's groups, the buttons and the keys.

    Attributes
    ----------
    page
        The page shown (0 is the first of :attr:`order`).
    order
        The group numbers, in the order reviewed.
    cards
        The files shown, in page order (``cards[0]`` is key 1): each has
        ``path``, ``group``, ``toggle`` (keep/remove) and ``split`` ("not a
        duplicate") buttons.
    """

    def __init__(self, groups: pd.DataFrame, *, root: str | os.PathLike | None = None,
                 output_dir: str | os.PathLike = "out", order: str = "widest", page_size: int = 1,
                 thumb_size: int = 288) -> None:
        missing = {"group", "path", "keep", "size", "diameter", "link_distance"} - set(groups.columns)
        if missing:
            raise ValueError(f"groups lacks the column(s) {sorted(missing)}: pass the table of dedupkit.find_groups")
        if order not in ORDERS:
            raise ValueError(f"order must be one of {list(ORDERS)}, got {order!r}")
        for name, value, least in (("page_size", page_size, 1), ("thumb_size", thumb_size, 32)):
            check_int(value, name, low=least)
        super().__init__(layout=widgets.Layout(padding="8px"))
        self.add_class("dk-review")
        self._table = groups.reset_index(drop=True)
        self._root = root
        self._log = DecisionLog(os.path.join(os.fspath(output_dir), "decisions.csv"), root=root)
        self._page_size, self._thumb = page_size, thumb_size
        self._facts: dict[str, str] = {}
        self._members = {int(g): rows for g, rows in self._table.groupby("group", sort=True)}
        self.order = _ordered(self._table, order)
        self._load()
        self.selected = 0
        self.cards: list = []
        self._header = widgets.HTML()
        self._header.add_class("dk-head")
        self._body = widgets.VBox()
        self.previous_button = widgets.Button(description="◀ previous", tooltip="previous group (← or k)")
        self.accept_button = widgets.Button(description="accept as proposed", button_style="primary",
                                            icon="check", tooltip="record what is shown and go on (a or Enter)",
                                            layout=widgets.Layout(width="auto"))
        self.next_button = widgets.Button(description="next ▶", tooltip="next group (→ or j)")
        self.previous_button.on_click(lambda _: self.go(self.page - 1))
        self.next_button.on_click(lambda _: self.go(self.page + 1))
        self.accept_button.on_click(lambda _: self.accept())
        help_text = widgets.HTML("<div class='dk-help'>Keys, with the mouse over this widget: ←/→ or k/j "
                                 "previous/next group · 1-9 select a file · space keep/remove it · n not a duplicate"
                                 " · a or Enter accept the group as shown and go on.<br>Each decision is saved at "
                                 f"once to {html.escape(self._log.path)}</div>")
        nav = widgets.HBox([self.previous_button, self.accept_button, self.next_button])
        self.children = [widgets.HTML(_CSS), self._header, self._body, nav, help_text]
        self._events = ipyevents.Event(source=self, watched_events=["keydown"], prevent_default_action=True)
        self._events.on_dom_event(self.handle_key)
        pages = range(self.pages)
        self.page = next((p for p in pages if not all(self.decided(g) for g in self._page_groups(p))), 0)
        self._render()

    # state -------------------------------------------------------------------------------------------------------

    def _load(self) -> None:
        """The decisions already in the log: each file's latest keep/remove, and the files split off their group."""
        decisions = self._log.read()
        paths = [str(p) for p in self._table["path"]]
        known = dict(zip(paths, identities([self._log.absolute(p) for p in paths], decisions)))
        files = decisions[decisions["decision"].isin(["keep", "remove"])]
        latest = dict(zip(files["path"], files["decision"]))
        self._decision = {p: latest[known[p]] for p in paths if known[p] in latest}
        apart = distinct_pairs(decisions)
        self._split: dict[int, set[str]] = {}
        for g, rows in self._members.items():
            members = [str(p) for p in rows["path"]]
            left = left_in_group([known[p] for p in members], apart)  # as apply_decisions has it
            self._split[g] = {p for p, stays in zip(members, left) if not stays}

    def _remaining(self, g: int) -> pd.DataFrame:
        rows = self._members[g]
        return rows[~rows["path"].astype(str).isin(self._split[g])]

    def keeps(self, g: int) -> dict[str, bool]:
        """Whether each file left in group ``g`` is kept: its decision, else the proposal."""
        rows = self._remaining(g)
        proposed = rows["keep"].to_numpy(dtype=bool, copy=True)
        if len(rows) and not proposed.any():  # the file kept was split off: the next in the group's order
            proposed[0] = True
        return {p: self._decision.get(p, "keep" if k else "remove") == "keep"
                for p, k in zip(rows["path"].astype(str), proposed)}

    def decided(self, g: int) -> bool:
        """Every file left in group ``g`` has a decision (or fewer than two are left)."""
        rows = self._remaining(g)
        return len(rows) < 2 or all(str(p) in self._decision for p in rows["path"])

    @property
    def pages(self) -> int:
        """How many pages there are."""
        return max(1, -(-len(self.order) // self._page_size))

    def _page_groups(self, page: int) -> list[int]:
        return self.order[page * self._page_size:(page + 1) * self._page_size]

    @property
    def decisions(self) -> pd.DataFrame:
        """The group table with the decisions so far applied (:func:`dedupkit.apply_decisions`)."""
        return apply_decisions(self._table, self._log.read(), root=self._root)

    # actions -----------------------------------------------------------------------------------------------------

    def toggle(self, index: int) -> None:
        """Keep the file of card ``index`` if it is removed, else remove it (written at once)."""
        card = self.cards[index]
        if card.path in self._split[card.group]:
            return
        decision = "remove" if self.keeps(card.group)[card.path] else "keep"
        self._log.record(card.group, card.path, decision)
        self._decision[card.path] = decision
        self.selected = index
        self._render()

    def split_off(self, index: int) -> None:
        """Mark the file of card ``index`` "not a duplicate" of the rest of its group, or put it back."""
        card = self.cards[index]
        split = self._split[card.group]
        back = card.path in split
        others = [str(p) for p in self._members[card.group]["path"] if str(p) != card.path and str(p) not in split]
        if others:
            self._log.record_many([{"group": card.group, "path": card.path, "decision": "same" if back else "distinct",
                                    "other": o} for o in others])
        self._load()  # who is left in the group, as apply_decisions will have it
        self.selected = index
        self._render()

    def accept(self) -> None:
        """Record every file of the page as shown (kept or removed), then go to the next undecided page."""
        rows = [{"group": g, "path": p, "decision": "keep" if k else "remove", "other": None}
                for g in self._page_groups(self.page) if len(self._remaining(g)) > 1
                for p, k in self.keeps(g).items() if p not in self._decision]
        if rows:
            self._log.record_many(rows)
            self._decision.update({r["path"]: r["decision"] for r in rows})
        later = [(self.page + step) % self.pages for step in range(1, self.pages + 1)]
        undecided = [p for p in later if not all(self.decided(g) for g in self._page_groups(p))]
        self.go(undecided[0] if undecided else self.page)

    def go(self, page: int) -> None:
        """Show page ``page`` (kept within the first and the last)."""
        page = min(max(page, 0), self.pages - 1)
        if page != self.page:
            self.page, self.selected = page, 0
        self._render()

    def handle_key(self, event: Mapping[str, Any]) -> None:
        """Do what :data:`KEYS` says for a keydown event (as ipyevents sends it: a dict with ``key``)."""
        action = KEYS.get(str(event.get("key", "")))
        if action is None or any(event.get(m) for m in ("ctrlKey", "altKey", "metaKey")):
            return
        if action == "next":
            self.go(self.page + 1)
        elif action == "previous":
            self.go(self.page - 1)
        elif action == "accept":
            self.accept()
        elif action == "select":
            if int(event["key"]) <= len(self.cards):
                self.selected = int(event["key"]) - 1
                self._render()
        elif self.cards:
            (self.toggle if action == "toggle" else self.split_off)(min(self.selected, len(self.cards) - 1))

    # drawing -----------------------------------------------------------------------------------------------------

    def _render(self) -> None:
        shown = self._page_groups(self.page)
        for card in self.cards:
            card.close()
        self.cards, panels = [], []
        for g in shown:
            rows = self._members[g]
            keeps, split = self.keeps(g), self._split[g]
            cards = [self._card(len(self.cards) + i, g, row, keeps, split) for i, row in
                     enumerate(rows.itertuples(index=False))]
            self.cards += cards
            panels.append(widgets.VBox([widgets.HTML(self._group_line(g)),
                                        widgets.HBox(cards, layout=widgets.Layout(flex_flow="row wrap"))]))
        self._body.children = panels
        first = self.page * self._page_size + 1
        where = ("No groups to review" if not shown else f"Group {first} of {len(self.order)}" if len(shown) == 1
                 else f"Groups {first}–{first + len(shown) - 1} of {len(self.order)}")
        done = sum(self.decided(g) for g in self.order)
        self._header.value = (f"<b style='font-size:17px'>{where}</b> &nbsp;·&nbsp; {done} of {len(self.order)} "
                              "groups decided")
        self.previous_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= self.pages - 1

    def _group_line(self, g: int) -> str:
        rows = self._members[g]
        left = len(self._remaining(g))
        state = ("<span class='dk-badge' style='background:#2e7d32'>✓ decided</span>" if self.decided(g) else
                 "<span class='dk-badge' style='background:#ef6c00'>undecided</span>")
        kept = sum(self.keeps(g).values())
        warn = " &nbsp;<b style='color:#c62828'>no file kept</b>" if left and not kept else ""
        apart = f" ({len(rows) - left} split off)" if left < len(rows) else ""
        return (f"<div class='dk-head'>group {g}: {len(rows)} files{apart} · diameter "
                f"{int(rows['diameter'].max())} bits · weakest link {int(rows['link_distance'].max())} bits · "
                f"{state}{warn}</div>")

    def _card(self, index: int, g: int, row, keeps: dict[str, bool], split: set[str]):
        path = str(row.path)
        full = self._log.absolute(path)
        is_split, kept = path in split, keeps.get(path, False)
        colour = _SPLIT if is_split else _KEPT if kept else _REMOVED
        label = "not a duplicate" if is_split else "KEEP" if kept else "remove"
        facts = self._fact(full)
        reason = getattr(row, "keep_reason", None) if kept and not is_split else None
        if kept and path in self._decision and not bool(row.keep):
            reason = "kept by your decision"
        name = os.path.relpath(full, os.path.abspath(self._root)) if self._root is not None else os.path.basename(path)
        info = (f"<div class='dk-info'><span class='dk-badge' style='background:{colour}'>{index + 1} · {label}"
                f"</span> <b>{html.escape(name)}</b><br>{facts}"
                + (f"<br><i>kept: {html.escape(str(reason))}</i>" if reason is not None and not pd.isna(reason)
                   else "") + "</div>")
        image = widgets.Image(value=_jpeg(full, self._thumb), format="jpeg",
                              layout=widgets.Layout(max_width=f"{self._thumb}px", max_height=f"{self._thumb}px"))
        frame = widgets.Box([image], layout=widgets.Layout(height=f"{self._thumb}px", width=f"{self._thumb}px",
                                                           justify_content="center", align_items="center"))
        toggle = widgets.Button(description="remove instead" if kept else "keep instead",
                                button_style="" if is_split else "danger" if kept else "success",
                                disabled=is_split, tooltip="keep or remove this file (space)",
                                layout=widgets.Layout(width="auto"))
        split_button = widgets.Button(description="back in group" if is_split else "not a duplicate",
                                      tooltip="split this picture off the group (n)",
                                      layout=widgets.Layout(width="auto"))
        toggle.on_click(lambda _, i=index: self.toggle(i))
        split_button.on_click(lambda _, i=index: self.split_off(i))
        selected = index == self.selected
        card = widgets.VBox([frame, widgets.HTML(info), widgets.HBox([toggle, split_button])], layout=widgets.Layout(
            width=f"{self._thumb + 22}px", padding="6px", margin="6px",
            border=f"{'6px' if kept else '3px'} {'dashed' if is_split else 'solid'} {colour}"))
        for cls in ("dk-card", "dk-kept" if kept and not is_split else "dk-split" if is_split else "dk-removed"):
            card.add_class(cls)
        if selected:
            card.add_class("dk-selected-mark")
        card.path, card.group, card.toggle, card.split = path, g, toggle, split_button
        return card

    def _fact(self, path: str) -> str:
        if path not in self._facts:
            from .keep import file_facts  # noqa: PLC0415

            row = file_facts([path], progress=False, detail=False).iloc[0]
            if isinstance(row["error"], str):
                self._facts[path] = f"<span style='color:#c62828'>{html.escape(row['error'])}</span>"
            else:
                date = datetime.datetime.fromtimestamp(row["mtime"]).strftime("%Y-%m-%d %H:%M")
                self._facts[path] = (f"{int(row['width'])}×{int(row['height'])} · {row['format']} · "
                                     f"{_bytes(int(row['bytes']))} · {date}" + (" · EXIF" if row["camera"] else ""))
        return self._facts[path]


def _ordered(table: pd.DataFrame, order: str) -> list[int]:
    per = table.groupby("group").agg(size=("path", "size"), diameter=("diameter", "max"),
                                     link=("link_distance", "max")).reset_index()
    keys = {"widest": ["diameter", "link", "size"], "largest": ["size", "diameter", "link"],
            "uncertain": ["link", "diameter", "size"], "group": []}[order]
    per = per.sort_values([*keys, "group"], ascending=[False] * len(keys) + [True], kind="stable")
    return [int(g) for g in per["group"]]


def _jpeg(path: str, size: int) -> bytes:
    from PIL import Image  # noqa: PLC0415

    from .thumbnails import thumbnail  # noqa: PLC0415

    buffer = io.BytesIO()
    Image.fromarray(thumbnail(path, size=size)).save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def _bytes(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"  # pragma: no cover
