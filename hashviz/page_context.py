"""What a page shows of one model, gathered once per script run: the model directory, its code
space over the page's search index, its dataset and the images of its rows, its class names and its
encoder. The page layer hands in loaders (its caches, shared across runs and sessions); each runs at
most once per context and only when a page first asks, so a page that shows no images loads none
and the encoder (weights, torch) is read only when an image must be encoded."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable

from hashviz.code_space import CodeSpace, code_space
from hashviz.zoo import ModelDir, class_names_of


@dataclass(eq=False)
class PageContext:
    """One model as every page sees it. `load_index()`: the search index over its database codes;
    `load_dataset()`: the dataset its rows index, or None; `load_images()`: an image source indexed
    by its ids (hashviz.data.images), or None; `load_encoder()`: its hasher (hashviz.encoders)."""

    model: ModelDir
    load_index: Callable[[], Any]
    load_dataset: Callable[[], Any]
    load_images: Callable[[], Any]
    load_encoder: Callable[[], Any]

    @cached_property
    def key(self) -> str:
        """The model's content key (caches of derived data are keyed by it)."""
        return self.model.content_key

    @cached_property
    def index(self):
        return self.load_index()

    @cached_property
    def code_space(self) -> CodeSpace:
        """What ranks a query of this model, over the page's index."""
        return code_space(self.model, self.index)

    @cached_property
    def dataset(self):
        return self.load_dataset()

    @cached_property
    def images(self):
        return self.load_images()

    @cached_property
    def class_names(self) -> list[str]:
        """The one naming rule (hashviz.zoo.class_names_of): the config's, else the dataset's, else numbers."""
        return class_names_of(self.model, self.dataset)

    def encoder(self):
        """The model's hasher, loaded on the first call (a bound method: pass `ctx.encoder` where a
        loader is expected, e.g. hashviz.retrieval.query_code)."""
        return self._encoder

    @cached_property
    def _encoder(self):
        return self.load_encoder()
