import numpy as np
import torch

from hashviz.augment import BatchShiftFlip
from hashviz.nets import HashNetwork, network_outputs, to_tensor


def test_batch_shift_only_moves_pixels():
    torch.manual_seed(0)
    x = torch.zeros(64, 1, 10, 10)
    x[:, :, 4:6, 4:6] = 1.0
    y = BatchShiftFlip(max_shift=2, flip=False)(x)
    assert y.shape == x.shape
    assert torch.all(y.sum((1, 2, 3)) == 4)  # the blob moves but never leaves the frame
    centres = [tuple(torch.nonzero(img[0])[0].tolist()) for img in y]
    assert len(set(centres)) > 5  # shifts differ per image


def test_batch_shift_is_a_window_of_the_edge_padded_image():
    """Every output image equals, pixel for pixel and in every channel, one (2p+1)^2 window of its
    edge-padded input (numpy's pad, written out here), and the windows drawn vary."""
    torch.manual_seed(3)
    p = 2
    x = torch.rand(40, 3, 9, 7)
    y = BatchShiftFlip(max_shift=p, flip=False)(x)
    shifts = set()
    for image, out in zip(x.numpy(), y.numpy()):
        padded = np.pad(image, ((0, 0), (p, p), (p, p)), mode="edge")
        found = [(dy, dx) for dy in range(2 * p + 1) for dx in range(2 * p + 1)
                 if np.array_equal(padded[:, dy:dy + 9, dx:dx + 7], out)]
        assert len(found) == 1
        shifts.add(found[0])
    assert len(shifts) > 8


def test_batch_flip_mirrors_some_images_exactly():
    torch.manual_seed(1)
    x = torch.arange(32 * 8 * 8, dtype=torch.float32).reshape(32, 1, 8, 8)
    y = BatchShiftFlip(max_shift=0, flip=True)(x)
    flipped = [torch.equal(a, b.flip(-1)) for a, b in zip(y, x)]
    kept = [torch.equal(a, b) for a, b in zip(y, x)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)


def test_to_tensor_scales_to_unit_range_and_channels_first():
    grey = np.array([[[0, 255]]], dtype=np.uint8)
    colour = np.zeros((1, 2, 2, 3), dtype=np.uint8)
    assert to_tensor(grey).tolist() == [[[[-1.0, 1.0]]]]
    assert to_tensor(colour).shape == (1, 3, 2, 2)


def test_network_outputs_match_batched_and_unbatched():
    torch.manual_seed(0)
    net = HashNetwork("small-cnn", 1, 16, width=8)
    images = np.random.default_rng(0).integers(0, 256, (10, 28, 28), dtype=np.uint8)
    a = network_outputs(net, images, batch_size=3)
    b = network_outputs(net, images, batch_size=100)
    assert a.shape == (10, 16)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_augmentation_shifts_grey_by_one_pixel_and_mirrors_only_colour():
    from hashviz.augment import augmentation
    grey, colour = augmentation((28, 28)), augmentation((32, 32, 3))
    assert (grey.max_shift, grey.flip) == (1, False)
    assert (colour.max_shift, colour.flip) == (4, True)
    torch.manual_seed(0)
    x = torch.zeros(200, 1, 28, 28)
    x[:, :, 10, 5] = 1.0  # one lit pixel, left of centre: a flip would move it past column 20
    cols = torch.nonzero(grey(x)[:, 0])[:, 2]
    assert set(cols.tolist()) == {4, 5, 6}


def test_backbone_layouts_lean_pooled_by_default_older_ones_load():
    from hashviz.errors import HashvizError
    from hashviz.hashers import create_hasher
    default = HashNetwork("small-cnn", 1, 16, width=8)   # layout 4
    pooled, lean, old = (HashNetwork("small-cnn", 1, 16, width=8, layout=k) for k in (2, 3, 1))
    x = torch.randn(3, 1, 28, 28)
    # layout 4: three 3x3 blocks; the 28x28 and 14x14 ones pool, the last runs at 7x7
    assert [type(m).__name__ for m in default.backbone.body[0]] == ["Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU"]
    assert default.backbone.body[:1](x).shape == (3, 8, 14, 14)
    assert default.backbone.body[:2](x).shape == (3, 16, 7, 7)
    assert default.backbone.body[:3](x).shape == (3, 32, 7, 7)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in default.modules()) == 3
    # layout 3: a 4x4 stride-2 stem (28 -> 14, no 28x28 maps), a pooled block, a 7x7 block
    stem = lean.backbone.body[0][0]
    assert (stem.kernel_size, stem.stride, stem.padding) == ((4, 4), (2, 2), (1, 1))
    assert [type(m).__name__ for m in lean.backbone.body[1]] == ["Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU"]
    assert lean.backbone.body[:1](x).shape == (3, 8, 14, 14)
    assert lean.backbone.body[:3](x).shape == (3, 32, 7, 7)
    assert [type(m).__name__ for m in pooled.backbone.body[0]] == ["Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU"]
    assert [type(m).__name__ for m in old.backbone.body[:2]] == ["Sequential", "MaxPool2d"]
    # layouts 1 and 2 share parameter shapes (the weights differ in meaning only by the layout)
    assert [p.shape for p in pooled.parameters()] == [p.shape for p in old.parameters()]
    assert default(x).shape == lean(x).shape == pooled(x).shape == old(x).shape == (3, 16)
    # a config from before the layout was recorded rebuilds layout 1; the recorded one is rebuilt
    config = {"method": "dpsh", "bits": 16, "width": 8, "backbone": "small-cnn"}
    assert set(create_hasher(config).net_.state_dict()) == set(old.state_dict())
    for layout, net in ((2, pooled), (3, lean), (4, default)):
        rebuilt = create_hasher({**config, "backbone_layout": layout}).net_.state_dict()
        assert {k: v.shape for k, v in rebuilt.items()} == {k: v.shape for k, v in net.state_dict().items()}
    try:
        create_hasher({**config, "backbone_layout": 7})
    except HashvizError as exc:
        assert "unknown backbone layout 7" in str(exc)
    else:
        raise AssertionError("layout 7 was accepted")
