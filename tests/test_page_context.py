"""The page context (hashviz.page_context): each loader runs at most once, and only when asked."""

from __future__ import annotations

from hashviz.page_context import PageContext


class Counted:
    def __init__(self, value):
        self.value, self.calls = value, 0

    def __call__(self):
        self.calls += 1
        return self.value


def context(model, names=None, images="images"):
    loaders = {"load_index": Counted("index"), "load_dataset": Counted(names), "load_images": Counted(images),
               "load_encoder": Counted("encoder")}
    return PageContext(model, **loaders), loaders


class Dataset:
    def __init__(self, class_names):
        self.class_names = class_names


def test_nothing_is_loaded_until_asked_and_each_loader_runs_once(tiny_zoo):
    from hashviz.zoo import load_model_dir
    ctx, loaders = context(load_model_dir(tiny_zoo / "dpsh-16"))
    assert [f.calls for f in loaders.values()] == [0, 0, 0, 0]
    assert ctx.images == "images" and ctx.images == "images"
    assert ctx.encoder() == "encoder" and ctx.encoder() == "encoder"
    assert [f.calls for f in loaders.values()] == [0, 0, 1, 1]        # neither index nor dataset yet


def test_the_code_space_searches_with_the_pages_index(tiny_zoo):
    from hashviz.zoo import load_model_dir
    model = load_model_dir(tiny_zoo / "dpsh-16")
    ctx, loaders = context(model)
    marker = object()
    loaders["load_index"].value = marker
    assert ctx.code_space is ctx.code_space and loaders["load_index"].calls == 1
    assert ctx.code_space.index is marker


def test_class_names_follow_the_config_then_the_dataset_then_numbers(tiny_zoo):
    from hashviz.zoo import load_model_dir
    model = load_model_dir(tiny_zoo / "lsh-16")
    n = int(max(model.database_labels.max(), model.query_labels.max())) + 1
    model.config.pop("class_names", None)
    assert context(model)[0].class_names == [str(i) for i in range(n)]
    from_dataset = [f"d{i}" for i in range(n)]
    assert context(model, Dataset(from_dataset))[0].class_names == from_dataset
    assert context(model, Dataset(["too", "few"]))[0].class_names == [str(i) for i in range(n)]
    model.config["class_names"] = [f"c{i}" for i in range(n)]
    assert context(model, Dataset(from_dataset))[0].class_names == [f"c{i}" for i in range(n)]
