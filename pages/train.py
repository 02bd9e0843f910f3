"""Train: pick a method, code length, epochs, learning rate and regularisers; the run goes on in a
background thread (hashviz.background) while a fragment polls it every second for the progress bar
and the loss / validation-mAP curves. The finished model lands in the models root, where the
sidebar's picker finds it."""

import streamlit as st

from hashviz import background as bg
from hashviz import pretrained
from hashviz.deployment import current_deployment
from hashviz.errors import HashvizError
from hashviz.lecture import quick_note
from hashviz.methods import FAMILY_TITLES, list_methods
from hashviz.plots import training_curves_figure
from hashviz.safe_text import fill, trusted
from hashviz.training import TrainSpec
from pages.common import as_text, models_root, show_error
from pages.session_keys import MODEL_NAME
from pages.shell import ensure_app_shell

ensure_app_shell()  # before anything is drawn: a page opened on its own goes through app.py
if current_deployment().demo:   # app.py does not route here in a demo; a direct run of this file stops
    st.stop()

JOB = "train_job"              # session_state: the session's hashviz.background.TrainingJob
SEEN = "train_job_seen_end"    # id of the job whose end already triggered the app rerun
DATASETS = {"fashion-mnist": "Fashion-MNIST (70,000 images, minutes per epoch)",
            "digits": "sklearn digits (1,797 tiny images, seconds)"}
REGULARISERS = {"balance": "bit balance", "decorrelation": "bit decorrelation", "quantization": "quantization"}
BACKBONES = {None: "a small CNN from scratch", "frozen": "EfficientNet-Lite0 (ImageNet), frozen: a head on cached features",
             "finetune": "EfficientNet-Lite0 (ImageNet), fine-tuned whole, as in the papers (slow on a CPU)"}


def select_model(name):
    st.session_state[MODEL_NAME] = name     # a callback: runs before the sidebar's picker is drawn


def job_view():
    job = st.session_state.get(JOB)
    if job is None:
        return
    snap = job.snapshot()
    st.progress(snap.fraction, text=fill("{}: {}", snap.name, snap.text))
    if snap.history:
        st.plotly_chart(training_curves_figure(snap.history), key="train_curves")
    elif snap.state == bg.RUNNING and snap.stage in ("starting", "train"):
        st.caption("The curves appear after the first epoch (shallow methods fit in one step, without epochs).")
    if not snap.finished:
        st.button("Cancel training", on_click=job.cancel, disabled=snap.cancel_requested,
                  icon=":material/stop_circle:")
    elif st.session_state.get(SEEN) != id(job):
        st.session_state[SEEN] = id(job)
        st.rerun()                          # the whole app: the sidebar rescans the models root
    elif snap.state == bg.DONE:
        st.success(fill("Saved **{}** in {} after {:.0f} s; it is in the sidebar's model picker now.", snap.name,
                        snap.out.parent, snap.seconds))
        if st.button(fill("Show {} in the sidebar", snap.name), on_click=select_model, args=(snap.name,)):
            st.rerun()                      # a click inside a fragment reruns only the fragment
    elif snap.state == bg.CANCELLED:
        st.warning(as_text(snap.message))
    else:
        st.error(fill("Training failed: {}", snap.message))


st.title("Train a model")
job = st.session_state.get(JOB)
running = job is not None and not job.snapshot().finished
lecture = st.toggle("Lecture mode: a quick 32-bit model, its curve drawn live", key="train_lecture",
                    disabled=running, help="The classification family's quick recipes (hashviz train --quick)")
infos = {m.name: m for m in list_methods() if m.quick or not lecture}

method = st.selectbox("Method (grouped by family)", list(infos), key="train_method", disabled=running,
                      format_func=lambda n: f"{FAMILY_TITLES[infos[n].family]} · {n} ({infos[n].paper})")
info = infos[method]
st.caption(trusted(info.summary))                     # the method registry's own words
recipe = info.quick if lecture else info.recipe
if lecture:
    st.info(trusted(quick_note(info)), icon=":material/school:")
left, mid, right = st.columns(3)
dataset = left.radio("Dataset", list(DATASETS), format_func=DATASETS.get, key="train_dataset",
                     disabled=running or lecture)
bits = mid.select_slider("Bits", [16, 32, 64, 128], value=32, key="train_bits", disabled=running or lecture)
recipe_key = f"{method}{'_quick' if lecture else ''}"
epochs = right.number_input("Epochs", 1, 200, int(recipe.get("epochs", 15)), key=f"train_epochs_{recipe_key}",
                            disabled=running or not info.deep)
lr = right.number_input("Learning rate", 1e-6, 1.0, float(recipe.get("lr", 1e-3)), format="%.0e", step=1e-4,
                        key=f"train_lr_{recipe_key}", disabled=running or not info.deep)
left, right = st.columns([3, 1])
modes = [None, "frozen"] + (["finetune"] if info.deep else [])
mode = left.selectbox("Backbone", modes, format_func=BACKBONES.get, key=f"train_backbone_{info.deep}",
                      disabled=running or lecture, help=trusted(pretrained.MODES_HELP)) if not lecture else None
resolution = right.selectbox("Resolution (px)", pretrained.RESOLUTIONS, index=1, key="train_resolution",
                             disabled=running or mode is None)
st.markdown("**Regularisers** (the survey's tricks; weight 0 = off; deep methods only)")
weights = {name: col.number_input(trusted(label), 0.0, 10.0, 0.0, step=0.05, key=f"train_reg_{name}",
                                  disabled=running or not info.deep)
           for col, (name, label) in zip(st.columns(3), REGULARISERS.items())}
regularizers = {k: float(v) for k, v in weights.items() if v > 0 and info.deep}
if lecture:                                   # the quick recipes are made for fmnist-1k at 32 bits
    bits, dataset = 32, "fashion-mnist"
derived = (bg.output_name(method, bits, regularizers, dataset) + ("-quick" if lecture else "")
           + (f"-{pretrained.NAME}-{mode}{resolution}" if mode else ""))
name = st.text_input("Model name", placeholder=derived, key="train_name", disabled=running,
                     help=fill("Empty: {}. A new directory in {}; existing ones are never overwritten.",
                               derived, models_root()))

if st.button("Start training", type="primary", disabled=running, icon=":material/play_arrow:"):
    spec = TrainSpec(method, bits, dataset=dataset, epochs=epochs if info.deep else None,
                     lr=lr if info.deep else None, regularizers=regularizers, quick=lecture,
                     backbone=pretrained.NAME if mode else None, pretrained_mode=mode,
                     resolution=resolution if mode else None)
    try:
        st.session_state[JOB] = bg.start_training(spec, bg.output_path(models_root(), name or derived))
        st.rerun()
    except HashvizError as exc:
        show_error(exc)

st.fragment(job_view, run_every=1 if running else None)()
