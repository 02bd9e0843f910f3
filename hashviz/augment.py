"""Training-time augmentation, drawn a whole batch at a time: the per-image shifts (and flips) every
deep method trains with, and the stronger views of the methods that learn from several views of each
image (hashviz.methods.protocols.MultiView). `batch_augmentation` picks by the method's `views`.

Every draw comes from the transform's `generator` (hashviz.randomness: the run's own, set by the
trainer; None: torch's global), in a fixed order, so a seed gives the same batches.
"""

from __future__ import annotations

import torch
from torch import nn

from hashviz import randomness


def batch_augmentation(image_shape: tuple[int, ...], views: int = 1) -> nn.Module:
    """What the trainer applies to each view of a batch (n, C, H, W): `augmentation` for a method of
    one view, `view_augmentation` for a method that compares two or more views of each image."""
    return view_augmentation(image_shape) if views > 1 else augmentation(image_shape)


class BatchShiftFlip(nn.Module):
    """Random shifts (edge padding) and horizontal flips drawn per image of a batch (n, C, H, W).
    A plain module, not a torchvision transform: importing torchvision costs seconds at start-up,
    which lecture mode cannot spare.

    torchvision's RandomCrop/RandomHorizontalFlip draw one choice per call, so per-image choices would
    take a Python loop over the batch; this draws all of a batch's choices at once.
    """

    generator = None    # hashviz.randomness: the run's own (None: torch's global)

    def __init__(self, max_shift: int, flip: bool = True):
        super().__init__()
        self.max_shift, self.flip = int(max_shift), flip

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # a batch, not a pytree of samples
        n, c, h, w = x.shape
        p = self.max_shift
        if p > 0:
            padded = torch.nn.functional.pad(x, (p, p, p, p), mode="replicate")
            dy = randomness.integers(2 * p + 1, (n, 1), self.generator, x.device)
            dx = randomness.integers(2 * p + 1, (n, 1), self.generator, x.device)
            # each image's window as flat offsets into its padded plane: one gather, which costs a
            # third of indexing by (image, channel, row, column) tensors
            rows = (dy + torch.arange(h, device=x.device))[:, :, None]
            cols = (dx + torch.arange(w, device=x.device))[:, None, :]
            window = (rows * (w + 2 * p) + cols).reshape(n, 1, h * w).expand(n, c, h * w)
            x = padded.reshape(n, c, -1).gather(2, window).reshape(n, c, h, w)
        if self.flip:
            mirrored = (randomness.uniform((n,), self.generator) < 0.5).to(x.device)
            x = torch.where(mirrored[:, None, None, None], x.flip(-1), x)
        return x


def augmentation(image_shape: tuple[int, ...]) -> nn.Module:
    """Per-image random shifts; for colour photographs also horizontal flips.

    Grey sets (digits, MNIST, Fashion-MNIST) are centred and have one orientation (the digits'
    meaning, Fashion-MNIST's left-facing shoes), so they get 1-pixel shifts and no flips, which
    scored best on fmnist-1k (larger shifts and mirroring scored lower: docs/recipes.md). Colour
    photographs get the usual CIFAR recipe: shifts of 1/8 the side and flips.
    """
    if len(image_shape) == 2:
        return BatchShiftFlip(1, flip=False)
    return BatchShiftFlip(max(1, image_shape[0] // 8), flip=True)


class BatchViews(nn.Module):
    """A stronger per-image augmentation for the views of unsupervised (contrastive) methods, on a
    batch (n, C, H, W) in [-1, 1]: a random resized crop (a square of `min_side` to 1 times the
    side, anywhere inside the image, resampled bilinearly to the full size), brightness and
    contrast jitter, for colour also a horizontal flip, then with probability `erase` one random
    rectangle set to 0 (mid grey). All draws at once for the whole batch, like BatchShiftFlip.

    Two views of one image must differ in what the codes should ignore (position, scale, lighting,
    a missing part) and keep what they should not (the object), so these are the usual SimCLR-style
    choices cut down to 28x28: no colour-dropping or blur, which would leave little of a
    Fashion-MNIST image."""

    generator = None    # hashviz.randomness: the run's own (None: torch's global)

    def __init__(self, min_side: float = 0.7, jitter: float = 0.3, flip: bool = False, erase: float = 0.3):
        super().__init__()
        self.min_side, self.jitter, self.flip, self.erase = float(min_side), float(jitter), flip, float(erase)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # a batch, not a pytree of samples
        n, _, h, w = x.shape
        draw = lambda *shape: randomness.uniform(shape, self.generator, x.device)  # noqa: E731
        side = self.min_side + (1 - self.min_side) * draw(n)
        centre = (1 - side)[:, None] * (2 * draw(n, 2) - 1)        # the crop stays inside the image
        theta = torch.zeros(n, 2, 3, device=x.device)
        theta[:, 0, 0] = side * (torch.where(draw(n) < 0.5, -1.0, 1.0) if self.flip else 1)
        theta[:, 1, 1] = side
        theta[:, :, 2] = centre
        grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
        x = torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        contrast = 1 + self.jitter * (2 * draw(n, 1, 1, 1) - 1)
        brightness = self.jitter * (2 * draw(n, 1, 1, 1) - 1)
        x = (x * contrast + brightness).clamp(-1, 1)
        if self.erase > 0:
            eh, ew = (h * (0.2 + 0.3 * draw(n))).long(), (w * (0.2 + 0.3 * draw(n))).long()
            top, left = ((h - eh) * draw(n)).long(), ((w - ew) * draw(n)).long()
            rows, cols = torch.arange(h, device=x.device), torch.arange(w, device=x.device)
            inside = (((rows[None] >= top[:, None]) & (rows[None] < (top + eh)[:, None]))[:, :, None]
                      & ((cols[None] >= left[:, None]) & (cols[None] < (left + ew)[:, None]))[:, None, :])
            x = x.masked_fill((inside & (draw(n) < self.erase)[:, None, None])[:, None], 0.0)
        return x


def view_augmentation(image_shape: tuple[int, ...]) -> nn.Module:
    """The views of the unsupervised methods (hashviz.methods.unsupervised): BatchViews, flipped
    only for colour photographs (grey sets have one orientation, see `augmentation`)."""
    return BatchViews(flip=len(image_shape) == 3)
