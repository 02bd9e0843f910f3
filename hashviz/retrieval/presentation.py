"""What the Retrieval page draws, as data: thumbnail-grid tiles (PNG data URIs), result tables,
labels as text and code strips as HTML."""

from __future__ import annotations

import base64
import html
import io
from typing import Mapping, Sequence

import numpy as np

from hashviz.code_space import CodeSpace, code_space
from hashviz.errors import HashvizError
from hashviz.labels import label_text
from hashviz.retrieval.ball import Ball
from hashviz.retrieval.query import QueryCode
from hashviz.retrieval.ranking import PARTIAL, RIGHT, UNKNOWN, WRONG, Ranking, format_distance

SYMBOL = {RIGHT: "✓", WRONG: "✗", UNKNOWN: "·", PARTIAL: "◐"}


def png_data_uri(image: np.ndarray, max_side: int = 96) -> str:
    """uint8 (H, W[, C]) -> 'data:image/png;base64,...' (larger images shrunk to max_side)."""
    from PIL import Image
    pic = Image.fromarray(np.ascontiguousarray(image))
    if max(pic.size) > max_side:
        pic.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    pic.save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def enlarge(image: np.ndarray, side: int = 160) -> np.ndarray:
    """Nearest-neighbour upscale by a whole factor so the longer side is about `side` pixels."""
    factor = max(1, side // max(image.shape[:2]))
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def _tile(ranking: Ranking, i: int, images, class_names, mark: str) -> dict:
    d = format_distance(ranking.distances[i])
    ds_id = None if ranking.dataset_ids is None else int(ranking.dataset_ids[i])
    return {"rank": int(i) + 1, "row": int(ranking.rows[i]), "distance": d, "mark": mark,
            "symbol": SYMBOL[mark], "label": label_text(ranking.labels[i], class_names),
            "uri": png_data_uri(images[ds_id]) if images is not None and ds_id is not None else None}


def grid_data(ranking: Ranking, images: np.ndarray | None, class_names: Sequence[str],
              selected_rank: int | None = None, size: int = 64, clickable: bool = True) -> dict:
    """What the thumbnail grid (pages/thumb_grid.js) draws: tie groups, each titled and with its
    tiles (rank, database row, distance, label, right/wrong mark and symbol, PNG data URI or None
    without images); consecutive untied items share one untitled group."""
    marks = ranking.marks()
    groups: list[dict] = []
    for g, group in enumerate(ranking.groups):
        tiles = [_tile(ranking, i, images, class_names, marks[i]) for i in np.flatnonzero(ranking.group_of == g)]
        if not group.tied and groups and not groups[-1]["tied"]:
            groups[-1]["tiles"].extend(tiles)      # a run of distinct distances needs no bracket
        else:
            groups.append({"title": group.title() if group.tied else "",
                           "tied": group.tied, "tiles": tiles})
    selected = None if selected_rank is None else int(selected_rank)
    return {"groups": groups, "selected": selected, "size": int(size), "clickable": bool(clickable)}


def ball_grid_data(ball: Ball, images: np.ndarray | None, class_names: Sequence[str],
                   per_radius: int = 40) -> dict:
    """Grid data for the Hamming ball: one group per distance (first `per_radius` items)."""
    groups = []
    for d in range(ball.radius + 1):
        at = np.flatnonzero(ball.distances == d)
        tiles = []
        for j in at[:per_radius]:
            mark = UNKNOWN if ball.relevant is None else (RIGHT if ball.relevant[j] else WRONG)
            ds_id = None if ball.dataset_ids is None else int(ball.dataset_ids[j])
            tiles.append({"rank": None, "row": int(ball.rows[j]), "distance": str(d), "mark": mark,
                          "symbol": SYMBOL[mark], "label": label_text(ball.labels[j], class_names),
                          "uri": png_data_uri(images[ds_id]) if images is not None and ds_id is not None else None})
        more = f" (first {per_radius} shown)" if len(at) > per_radius else ""
        groups.append({"title": f"distance {d}: {len(at)} items{more}", "tied": len(at) > 1, "tiles": tiles})
    return {"groups": groups, "selected": None, "size": 64, "clickable": False}


def ranking_frame(ranking: Ranking, class_names: Sequence[str]):
    """pandas DataFrame of the top n: rank, database_index, dataset_index, distance, label,
    right_wrong, tie_group (the page's results table; its CSV is hashviz.neighbour_table.ranking_table)."""
    import pandas as pd
    marks = ranking.marks()
    return pd.DataFrame({
        "rank": np.arange(1, ranking.n + 1),
        "database_index": ranking.rows,
        "dataset_index": ranking.dataset_ids if ranking.dataset_ids is not None else [None] * ranking.n,
        "distance": ranking.distances,
        "label": [label_text(lab, class_names) for lab in ranking.labels],
        "right_wrong": marks,
        "tie_group": [ranking.groups[g].title() for g in ranking.group_of],
    })


def item_note(ranking: Ranking, qcode: QueryCode, i: int, class_names: Sequence[str]) -> str:
    """'#3 · label 7 · ✓ right · database index 812 · differs from the query in 2 bits: 4, 9'."""
    diff = ranking.space.differing_positions(qcode.code, ranking.codes[i])
    what = ranking.space.positions_name
    mark = ranking.marks()[i]
    where = f": {', '.join(map(str, diff))}" if len(diff) else ""
    return (f"#{i + 1} · label {label_text(ranking.labels[i], class_names)} · {SYMBOL[mark]} {mark} · "
            f"database index {ranking.rows[i]} · differs from the query in {len(diff)} {what}{where}")


def item_detail(ranking: Ranking, qcode: QueryCode, i: int, images: np.ndarray | None,
                class_names: Sequence[str]) -> tuple[np.ndarray | None, str, str]:
    """Result i shown large: (enlarged image or None, its caption, the query-vs-item bit strip)."""
    image = None
    if images is not None and ranking.dataset_ids is not None:
        image = enlarge(images[ranking.dataset_ids[i]])
    caption = f"#{i + 1} · {label_text(ranking.labels[i], class_names)}"
    strip = code_strip_html({"query": qcode.code, f"#{i + 1}": ranking.codes[i]}, ranking.space,
                           title=item_note(ranking, qcode, i, class_names))
    return image, caption, strip


def query_strip_html(model, qcode: QueryCode) -> str:
    """The query's code as a strip, titled (bits with their count, or a pq code's indices)."""
    space = code_space(model)
    return code_strip_html({"query": qcode.code}, space, title=space.strip_title)


def code_strip_html(codes: Mapping[str, np.ndarray], space: CodeSpace, title: str = "") -> str:
    """Codes of `space` as strips of cells, one row per named code (uint8 (width,) or (1, width)), a
    cell per position as the space shows it (bits, bit 0 first, 1 filled blue; or codeword indices).
    With two codes a third row marks with '×' the positions where they differ (a mark, not colour
    alone). HTML for st.html."""
    names = list(codes)
    if not names:
        raise HashvizError("code_strip_html needs at least one code")
    arrays = [np.asarray(c, np.uint8).ravel() for c in codes.values()]
    values = [space.code_cells(a) for a in arrays]
    cell = "min-width:15px;padding:1px 2px;text-align:center;border-radius:2px"
    head = "text-align:right;padding-right:6px;font-weight:400"

    def row(name: str, cells: str, extra: str = "") -> str:
        return f'<tr><th style="{head}{extra}">{html.escape(name)}</th>{cells}</tr>'

    def paint(v, filled) -> str:
        colours = "background:#0072B2;color:#fff" if filled else "background:#eef0f3;color:#222"
        return f'<td style="{cell};{colours}">{int(v)}</td>'

    rows = [row(name, "".join(map(paint, cells, space.filled_cells(cells)))) for name, cells in zip(names, values)]
    if len(values) == 2:
        diff = set(space.differing_positions(arrays[0], arrays[1]).tolist())
        marks = "".join(f'<td style="{cell};color:#C04A00;font-weight:700">{"×" if i in diff else ""}</td>'
                        for i in range(len(values[0])))
        rows.append(row(f"differs ({len(diff)})", marks))
    ticks = "".join(f'<td style="{cell};color:#888;font-size:10px">{i if i % 4 == 0 else ""}</td>'
                    for i in range(len(values[0])))
    rows.append(row(space.position_name, ticks, ";color:#888;font-size:10px"))
    title = f'<div style="font-weight:600;margin-bottom:2px">{html.escape(title)}</div>' if title else ""
    return (f'<div class="hv-bits" style="font:12px ui-monospace,monospace;overflow-x:auto">{title}'
            f'<table style="border-collapse:separate;border-spacing:2px">{"".join(rows)}</table></div>')


