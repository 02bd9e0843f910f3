"""The app's shell, shared by every page: the sidebar (models root, model, search backend), the
screen shown when there is no model yet, and the routing guard for pages opened on their own."""

from __future__ import annotations

import runpy
from pathlib import Path

import streamlit as st

from hashviz.deployment import current_deployment, first_model
from hashviz.errors import HashvizError
from hashviz.safe_text import fill
from hashviz.zoo import ModelDir
from pages.common import (FAISS, MILVUS, as_text, default_root, listing_of, models_in, models_root, search_backend,
                          selected_model)
from pages.session_keys import MILVUS_FAILED, MILVUS_URI, MODEL_NAME, MODELS_ROOT, SEARCH_BACKEND


def ensure_app_shell() -> None:
    """Route through app.py when Streamlit ran a page file on its own.

    A folder named pages/ makes Streamlit treat a first request for /evaluate (and every AppTest
    run) as an old-style pages-folder app that skips app.py, its navigation and sidebar. Running
    app.py here, in the same script run (so widget clicks are kept), routes the URL through
    st.navigation, which also turns that mode off; then the stray page run stops.
    """
    from streamlit.runtime.pages_manager import PagesManager
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        runpy.run_path(str(Path(__file__).resolve().parent.parent / "app.py"), run_name="__main__")
        st.stop()


def render_sidebar() -> ModelDir | None:
    demo = current_deployment().demo
    with st.sidebar:
        if not demo:    # a demo's models root is the server's: no box
            st.text_input("Models root", value=default_root(), key=MODELS_ROOT,
                          help="A folder of model directories (default models/, or $HASHVIZ_MODELS)")
        root = models_root()
        valid, invalid = models_in(root)
        if problem := listing_of(root).problem:     # e.g. a root this server may not read
            st.error(as_text(problem))
        if valid:
            names = [m.name for m in valid]
            labels = {m.name: m.label for m in valid}
            if st.session_state.get(MODEL_NAME) not in names:
                wanted = st.query_params.get("model")
                st.session_state[MODEL_NAME] = wanted if wanted in names else \
                    first_model(valid, current_deployment().default_model).name
                if wanted and wanted not in names:    # a stale or mistyped link: say so, once
                    st.warning(fill("No model named {} in this root; showing {}.", wanted,
                                    st.session_state[MODEL_NAME]))
            st.selectbox("Model", names, key=MODEL_NAME, format_func=labels.get)
            model = selected_model()
            st.caption(fill("{} · {} ({}) · {} bits · dataset **{}** · protocol {}", model.family, model.method,
                            model.config.get("paper") or "no paper id", model.bits, model.dataset, model.protocol))
        else:
            model = None
            st.info(fill("No valid model in {} yet.", root))
        if demo:
            st.caption(fill("Search: {} (set by the server) · a read-only demo", search_backend()[0]))
        elif st.radio("Search backend", [FAISS, MILVUS], key=SEARCH_BACKEND, horizontal=True,
                      help="Milvus: a server (http://host:19530) or a Milvus Lite .db file") == MILVUS:
            local = Path(root) / ".cache" / "milvus.db"   # default: a Milvus Lite file beside the models
            if Path(root).is_dir():
                local.parent.mkdir(exist_ok=True)
            st.text_input("Milvus URI", value=current_deployment().milvus_uri or str(local),
                          key=MILVUS_URI, on_change=lambda: st.session_state.pop(MILVUS_FAILED, None))
        if invalid:
            with st.expander(fill("{} invalid model dir(s)", len(invalid))):
                for path, reason in invalid:
                    st.warning(fill("**{}**: {}", path.name, reason))
    return model


def require_model() -> ModelDir:
    """The chosen model, or a how-to-build-the-zoo screen (and stop) when there is none."""
    model = selected_model()
    if model is None:
        no_models_screen(models_root())
        st.stop()
    return model


def no_models_screen(root: str) -> None:
    st.title("hashviz")
    if current_deployment().demo:
        st.write("This demo server has no trained model to show yet.")
        return
    if not Path(root).is_dir():   # a typo or a file: building a zoo there would be a mistake
        st.error(fill("The models root {} is {}: choose a folder of model directories in the sidebar.", root,
                      "a file" if Path(root).exists() else "missing"))
        return
    st.write(fill("The models root **{}** holds no trained model yet. Build the starter zoo (one 32-bit model "
                  "per family of the survey, plus ITQ and LSH, on Fashion-MNIST) with `hashviz zoo build --root "
                  "ROOT` (ROOT: {}), or here:", root, root))
    if st.button("Build the starter zoo", type="primary"):
        from hashviz.zoo_build import build_starter_zoo
        bar = st.progress(0.0, text="starting…")

        def progress(stage, done, total, info):
            bar.progress(min(done / max(total, 1), 1.0), text=fill("{}: {}/{}", stage, done, total))

        try:
            with st.status("Building the starter zoo…", expanded=True) as status:
                build_starter_zoo(Path(root), progress=progress, log=lambda line: st.write(as_text(line)))
                status.update(label="Starter zoo ready", state="complete")
            st.rerun()
        except HashvizError as exc:
            st.error(as_text(exc))
