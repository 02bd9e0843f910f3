"""Decoding steps shared by uploads (hashviz.retrieval.upload) and list-file thumbnails
(hashviz.data.images), so a picture looks the same wherever it is shown: the formats opened, the
pixel cap checked against the header, box reduction right after decoding, 16-bit scaling and
transparency flattened on white. Each step appends what it did to `notes`."""

from __future__ import annotations

import numpy as np

MAX_IMAGE_PIXELS = 16_000_000   # 4000×4000: far more than a thumbnail needs; decoded <= 64 MB
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")   # what image datasets use; nothing else is opened


def image_format(head: bytes) -> str | None:
    """The IMAGE_FORMATS name that a file's first 12+ bytes announce, else None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head.startswith(b"BM"):
        return "BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def shrink(pic, factor: int, notes: list[str]):
    """Box-average by an integer factor in the decoded mode when Pillow can (16-bit greyscale goes
    through 32-bit 'I'; palette and 1-bit are expanded first), so later conversions touch a small
    picture."""
    if factor < 2:
        return pic
    w, h = pic.size
    if pic.mode.startswith("I;16"):
        pic = pic.convert("I")
    elif pic.mode == "P":
        pic = pic.convert("RGBA" if "transparency" in pic.info else "RGB")
        notes.append(f"expanded the palette to {pic.mode}")
    elif pic.mode == "1":
        pic = pic.convert("L")
    small = pic.reduce(factor)
    notes.append(f"reduced {w}×{h} by {factor} to {small.size[0]}×{small.size[1]} (box average)")
    return small


def to_8bit(pic, notes: list[str], read_mode: str | None = None):
    """16/32-bit greyscale scaled to 0..255 (by 65535 for 16-bit files), palette, CMYK and 1-bit
    expanded; L, LA, RGB and RGBA pass. `read_mode`: the mode as decoded (before any shrink)."""
    from PIL import Image
    read_mode = read_mode or pic.mode
    if pic.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(pic).astype(np.float64)
        top = 65535.0 if read_mode.startswith("I;16") or arr.max() > 255 else 255.0
        top = max(top, float(arr.max()))
        arr = np.clip(arr / top * 255.0, 0, 255).round().astype(np.uint8)
        notes.append(f"scaled {read_mode} values (0..{top:.0f}) to 8 bits")
        return Image.fromarray(arr, mode="L")
    if pic.mode == "P":
        mode = "RGBA" if "transparency" in pic.info else "RGB"
        notes.append(f"expanded the palette to {mode}")
        return pic.convert(mode)
    if pic.mode == "CMYK":
        notes.append("converted CMYK to RGB")
        return pic.convert("RGB")
    if pic.mode == "1":
        notes.append("expanded black-and-white to greyscale")
        return pic.convert("L")
    if pic.mode == "PA":
        notes.append("expanded the palette to RGBA")
        return pic.convert("RGBA")
    if pic.mode not in ("L", "LA", "RGB", "RGBA", "La", "RGBa"):
        notes.append(f"converted {pic.mode} to RGB")
        return pic.convert("RGB")
    return pic


def flatten(pic, notes: list[str]):
    """Transparency composited on white (on black when the visible pixels are mostly light, so a
    white drawing stays visible); an opaque alpha channel is dropped."""
    from PIL import Image
    if pic.mode not in ("LA", "RGBA", "La", "RGBa"):
        return pic
    rgba = pic.convert("RGBA")
    alpha = np.asarray(rgba)[..., 3]
    if alpha.min() == 255:
        notes.append("dropped an opaque alpha channel")
        return rgba.convert("RGB")
    visible = np.asarray(rgba.convert("L"))[alpha > 127]
    light = visible.size > 0 and visible.mean() > 127
    colour = (0, 0, 0, 255) if light else (255, 255, 255, 255)
    flat = Image.alpha_composite(Image.new("RGBA", rgba.size, colour), rgba).convert("RGB")
    notes.append(f"flattened the transparency on {'black' if light else 'white'}")
    return flat


# EXIF orientation 2..8 -> the Image.Transpose that undoes it (as ImageOps.exif_transpose); 1 is
# upright and any other value is no orientation at all: both are left alone.
EXIF_TURNS = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270",
              7: "TRANSVERSE", 8: "ROTATE_90"}


def exif_orientation(pic) -> int | None:
    """The picture's EXIF orientation tag, read before any conversion drops it (None: none or unreadable)."""
    try:
        return pic.getexif().get(0x0112)
    except Exception:  # a broken EXIF block is no reason to refuse or blank the picture
        return None


def undo_orientation(pic, orientation: int | None):
    """The picture turned upright as its EXIF orientation says (unchanged when it says nothing)."""
    if orientation not in EXIF_TURNS:
        return pic
    from PIL import Image
    return pic.transpose(getattr(Image.Transpose, EXIF_TURNS[orientation]))
