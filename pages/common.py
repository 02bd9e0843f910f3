"""Shared by every page: cached loaders (one copy per process, shared by all sessions) and the
sidebar. Pages call these; all logic lives in hashviz."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import streamlit as st

from hashviz.deployment import MILVUS as MILVUS_KIND, current_deployment
from hashviz.errors import HashvizError
from hashviz.safe_text import escape as as_text, fill  # noqa: F401  (as_text: the pages' name for escape)
from hashviz.model_listing import ModelListing
from hashviz.zoo import ModelDir
from pages.session_keys import MILVUS_FAILED, MILVUS_URI, MODEL_NAME, MODELS_ROOT, SEARCH_BACKEND

FAISS, MILVUS = "faiss (in-process)", "Milvus"


# ---------------------------------------------------------------- cached resources

@st.cache_resource(show_spinner=False, max_entries=8)
def _listing(root: str) -> ModelListing:    # one per folder: it re-reads the root when a model dir changes
    return ModelListing(root)


def listing_of(root: str) -> ModelListing:  # .problem: why a root lists nothing
    return _listing(os.path.realpath(os.path.expanduser(root)))   # however the folder is spelled


def models_in(root: str):
    return listing_of(root).current(reading=lambda: st.spinner("Reading the models root…"))


@st.cache_resource(show_spinner="Loading the dataset…", max_entries=4)
def get_dataset(name: str):
    from hashviz.data import load_dataset
    return load_dataset(name)


@st.cache_resource(show_spinner="Building the search index…", max_entries=32)
def _faiss_index(model_key: str, _model: ModelDir, kind: str = "flat"):
    """HammingIndex (binary) or PQIndex (pq) over the model's database codes."""
    from hashviz.search import model_index
    return model_index(_model, kind)


@st.cache_resource(show_spinner="Connecting to Milvus…", max_entries=16)
def _milvus_index(model_key: str, uri: str, _model: ModelDir):
    """The model's collection (named by the fingerprint of its codes) at `uri`, pushed there if missing."""
    from hashviz.search import model_index
    return model_index(_model, "milvus", uri=uri)


def search_backend() -> tuple[str, str]:
    """(backend label, Milvus uri): a demo's come from the server only, else from the sidebar."""
    if (server := current_deployment()).demo:
        return (MILVUS, server.default_milvus_uri) if server.backend == MILVUS_KIND else (FAISS, "")
    return st.session_state.get(SEARCH_BACKEND, FAISS), st.session_state.get(MILVUS_URI, "")


def get_index(model_key: str, model: ModelDir):
    """The search index of the sidebar's backend (Milvus where the model's code space can use a server's
    collection); Milvus falls back to faiss with a warning. In-process it is the exact flat index."""
    from hashviz.code_space import code_space
    backend, uri = search_backend()
    if backend == MILVUS and uri and code_space(model).remote_index:
        failed = st.session_state.setdefault(MILVUS_FAILED, {})
        if uri not in failed:
            try:
                return _milvus_index(model_key, uri, model)
            except HashvizError as exc:
                failed[uri] = str(exc)  # remembered: a dead server must not slow every click
        st.warning(fill("Milvus is not usable ({}); searching in-process with faiss instead.", failed[uri]))
    return _faiss_index(model_key, model, "flat")     # the same cache entry as the backends lens's flat index


@st.cache_resource(show_spinner="Loading the encoder…", max_entries=16)
def get_encoder(model_key: str, _model: ModelDir):
    from hashviz.encoders import load_encoder
    return load_encoder(_model)


# ---------------------------------------------------------------- selection state

def default_root() -> str:
    """$HASHVIZ_MODELS, else models/ (read per run: tests and launchers set it per process)."""
    return current_deployment().models_root


def models_root() -> str:
    """The sidebar's models root; a demo's is the server's, whatever the session holds."""
    return default_root() if current_deployment().demo else st.session_state.get(MODELS_ROOT, default_root())


def current_models() -> list[ModelDir]:
    return models_in(models_root())[0]   # the valid ones


def model_by_name(name: str | None) -> ModelDir | None:
    return next((m for m in current_models() if m.name == name), None)


def selected_model() -> ModelDir | None:
    """The model chosen in the sidebar (None when the root holds no valid model)."""
    return model_by_name(st.session_state.get(MODEL_NAME))


def show_error(exc: Exception) -> None:
    """One place that turns a hashviz error into a message (never a traceback)."""
    st.error(as_text(exc) if isinstance(exc, HashvizError) else fill("Unexpected problem: {}", exc))


def or_stop(compute, *args, **kwargs):
    """compute(*args, **kwargs); on a HashvizError, its message and the end of this page's run."""
    try:
        return compute(*args, **kwargs)
    except HashvizError as exc:
        show_error(exc)
        st.stop()


# ---------------------------------------------------------------- thumbnail grid

@functools.cache
def _thumb_grid():
    here = Path(__file__).parent
    return st.components.v2.component("hashviz_thumb_grid", js=(here / "thumb_grid.js").read_text(),
                                      css=(here / "thumb_grid.css").read_text(), isolate_styles=False)


def thumbnail_grid(data: dict, key: str, on_click=None):
    """Draw hashviz.retrieval.grid_data / ball_grid_data (pages/thumb_grid.js). Returns the rank of
    the tile clicked on the rerun the click caused (data["clickable"]), else None."""
    callbacks = {"on_clicked_change": on_click or (lambda: None)} if data.get("clickable") else {}
    result = _thumb_grid()(data=data, key=key, **callbacks)
    return result.get("clicked") if callbacks else None


def sync_query_params(params: dict[str, str], drop: tuple[str, ...] = ()) -> None:
    """Make the URL hold `params` (a shareable view) and not the keys in `drop`; writes only changes."""
    for key in (k for k in drop if k in st.query_params and k not in params):
        del st.query_params[key]
    if changed := {k: v for k, v in params.items() if st.query_params.get(k) != v}:
        st.query_params.update(changed)
