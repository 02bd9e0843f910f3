"""The page context (hashviz.page_context) of a model over this app's caches: a page builds the
sidebar model's once at the top of its run (`require_context`) and hands it to what draws; a second
model shown beside it (side by side, a comparison) gets its own with `context_of`."""

from __future__ import annotations

from hashviz.page_context import PageContext
from hashviz.zoo import ModelDir
from pages.common import get_encoder, get_index
from pages.images import dataset_of, images_of
from pages.shell import require_model


def context_of(model: ModelDir, warn: bool = False) -> PageContext:
    """The model's context; with `warn`, a page that cannot show its images says why."""
    ctx = PageContext(model, load_index=lambda: get_index(ctx.key, model), load_dataset=lambda: dataset_of(model),
                      load_images=lambda: images_of(model, warn), load_encoder=lambda: get_encoder(ctx.key, model))
    return ctx


def require_context(warn: bool = False) -> PageContext:
    """The sidebar model's context, or the how-to-build-the-zoo screen (and the run stops)."""
    return context_of(require_model(), warn)
