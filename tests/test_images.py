"""Image sources: files read on demand into a bounded cache, aspect kept, grey and colour, folders."""

import numpy as np
from PIL import Image

from hashviz.data.datasets import load_image_folder
from hashviz.data.images import ArrayImages, FileImages, list_image_folder


def test_file_images_keep_aspect_and_mode_and_the_cache_stays_bounded(tmp_path):
    Image.new("RGB", (400, 100), (200, 10, 10)).save(tmp_path / "wide.jpg")
    Image.new("L", (20, 60), 77).save(tmp_path / "tall.png")
    Image.new("I;16", (30, 30)).save(tmp_path / "deep.png")
    images = FileImages(tmp_path, ["wide.jpg", "tall.png", "deep.png", "gone.png"], side=160, cache_items=2)
    wide, tall = images[0], images[1]
    assert wide.shape == (40, 160, 3) and abs(int(wide[20, 80, 0]) - 200) < 8      # shrunk 400x100 -> 160x40
    assert tall.shape == (60, 20) and tall[0, 0] == 77                              # small: never enlarged
    assert images[2].shape == (30, 30)                                              # 16-bit grey -> 8-bit grey
    assert images.cached == 2                                                       # LRU: at most 2 kept
    assert images[3].shape == (160, 160, 3)                                         # placeholder
    assert images.describe(3) == str(tmp_path / "gone.png")


def test_array_images_index_like_the_array():
    array = np.arange(24, dtype=np.uint8).reshape(3, 2, 4)
    images = ArrayImages(array)
    assert len(images) == 3 and images.shape == (3, 2, 4)
    np.testing.assert_array_equal(images[1], array[1])


def test_an_image_folder_is_listed_without_decoding_and_loads_for_training(tmp_path, monkeypatch):
    monkeypatch.setenv("HASHVIZ_DATA_ROOTS", str(tmp_path))
    for cls, colour in (("cat", 10), ("dog", 200)):
        (tmp_path / cls).mkdir()
        for i in range(2):
            Image.new("L", (12, 12), colour).save(tmp_path / cls / f"{i}.png")
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    files, labels, classes = list_image_folder(tmp_path)
    assert classes == ("cat", "dog") and labels.tolist() == [0, 0, 1, 1] and files.cached == 0
    assert files.describe(2) == str(tmp_path / "dog" / "0.png")
    dataset = load_image_folder(tmp_path)
    assert dataset.images.shape == (4, 12, 12) and dataset.images[3, 0, 0] == 200
