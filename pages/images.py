"""Images of a model's rows for every page, through one image source (hashviz.data.images): the
dataset in memory (Fashion-MNIST's fast path) or the files an import references, read on demand."""

import streamlit as st

from hashviz.data.images import ArrayImages, model_images, references_files
from hashviz.errors import HashvizError
from hashviz.safe_text import fill
from hashviz.zoo import check_ids_within
from pages.common import get_dataset


def dataset_of(model, warn: bool = False):
    """The model's dataset, or None (codes-only or imported model; or it cannot be loaded: with
    warn, say why)."""
    try:
        dataset = get_dataset(model.dataset) if model.database_ids is not None and not references_files(model) else None
        check_ids_within(model, None if dataset is None else dataset.images)
        return dataset
    except HashvizError as exc:
        if warn:
            st.warning(fill("No thumbnails: {}", exc))
        return None


@st.cache_resource(max_entries=16)
def _file_images(model_key: str, _model):
    """The image files an imported model references, with one bounded thumbnail cache per process."""
    return model_images(_model)


def images_of(model, warn: bool = False):
    """The images of a model's rows (indexed by its database/query ids) as an image source, read
    on demand (hashviz.data.images), or None when the model has none."""
    if references_files(model):
        try:
            return _file_images(model.content_key, model)
        except HashvizError as exc:
            if warn:
                st.warning(fill("No thumbnails: {}", exc))
            return None
    dataset = dataset_of(model, warn) if model.has_images else None
    return ArrayImages(dataset.images) if dataset is not None else None
