"""The Retrieval page's view in its URL: read a shared link, write the one that reopens the view."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

N_RANGE = (5, 100)          # top-n the page offers
VIEWS = {"top-n": "Top n", "side-by-side": "Side by side", "hamming-ball": "Hamming ball",   # URL value: label
         "bit-flip": "Bit flip", "backends": "Backends"}



@dataclass
class UrlState:
    """What a shared link asks for; None = not given. warnings: parts of the link that were ignored."""

    query: int | None = None
    n: int | None = None
    compare: list[str] = field(default_factory=list)
    view: str | None = None
    warnings: list[str] = field(default_factory=list)

    def given(self) -> dict:
        """The parts the link set (query, n, view, compare), for the page's state."""
        values = {"query": self.query, "n": self.n, "view": self.view, "compare": self.compare or None}
        return {key: value for key, value in values.items() if value is not None}


def parse_url_state(params: Mapping[str, str], n_queries: int, model_names: Sequence[str]) -> UrlState:
    """Read ?query=, ?n=, ?compare=a,b and ?view= from a link, keeping what is valid."""
    state = UrlState()
    raw = params.get("query")
    if raw not in (None, ""):
        try:
            value = int(raw)
            if not 0 <= value < n_queries:
                raise ValueError
            state.query = value
        except (TypeError, ValueError):
            state.warnings.append(f"the link's query {raw!r} is not a query index 0..{n_queries - 1}; ignored")
    raw = params.get("n")
    if raw not in (None, ""):
        try:
            state.n = min(max(int(raw), N_RANGE[0]), N_RANGE[1])
        except (TypeError, ValueError):
            state.warnings.append(f"the link's n {raw!r} is not a number; ignored")
    raw = params.get("compare")
    if raw:
        names = [s for s in dict.fromkeys(str(raw).split(",")) if s]
        unknown = [s for s in names if s not in model_names]
        state.compare = [s for s in names if s in model_names][:4]
        if unknown:
            state.warnings.append(f"the link compares unknown model(s) {', '.join(unknown)}; left out")
    raw = params.get("view")
    if raw:
        if raw in VIEWS:
            state.view = raw
        else:
            state.warnings.append(f"the link's view {raw!r} is not one of {', '.join(VIEWS)}; ignored")
    return state


def url_params(model: str, query: int | None, n: int, view: str, compare: Sequence[str]) -> dict[str, str]:
    """The query parameters that reopen this view (query None: an upload, which a link cannot carry)."""
    out = {"model": model, "n": str(int(n)), "view": view}
    if query is not None:
        out["query"] = str(int(query))
    if view == "side-by-side" and compare:
        out["compare"] = ",".join(compare)
    return out
