"""Every Pillow image mode turned into the model's L, RGB or RGBA pixels, the same way for ranking
and training (docs/images.md has the table):

- EXIF orientation is applied first (a phone photo is ranked the way it is shown);
- 16-bit samples (I;16*, and I from a 16-bit PNG) keep their high byte, value >> 8, as Pillow
  itself reduces 16-bit RGB PNGs; converting them with Pillow would clip everything above 255 to
  white;
- 32-bit integer (I, not from a PNG) and float (F) pixels have no fixed range: refused
  (UnsupportedMode), never guessed;
- transparency (RGBA, LA, PA, a palette or L/RGB with a transparent colour) is composited over
  white for L and RGB models, what an image viewer shows; RGBA models get the alpha channel;
- anything else (1-bit, P, CMYK, YCbCr, RGBX ...) goes through Pillow's convert.
"""
from __future__ import annotations

import numpy as np

SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")
WITH_ALPHA = ("RGBA", "LA", "PA", "RGBa", "La")
BACKGROUND = (255, 255, 255, 255)  # white, under transparent pixels


def to_model_mode(img, mode: str):
    """`img` (loaded) as a Pillow image of `mode` ("L", "RGB" or "RGBA")."""
    from PIL import Image, ImageOps

    from .image_folder import UnsupportedMode
    source_format = img.format
    img = ImageOps.exif_transpose(img)
    if img.mode in SIXTEEN_BIT or (img.mode == "I" and source_format == "PNG"):
        img = _high_byte(img)
    elif img.mode in ("I", "F"):
        kind = "32-bit integer" if img.mode == "I" else "floating-point"
        raise UnsupportedMode(f"{kind} pixels (Pillow mode {img.mode}) have no fixed 8-bit range; save the image "
                              f"with 8 or 16 bits per sample")
    transparent = img.mode in WITH_ALPHA or "transparency" in img.info
    if img.mode == mode and not (transparent and mode != "RGBA"):
        return img
    try:
        if transparent:
            img = img.convert("RGBA")
            if mode != "RGBA":
                img = Image.alpha_composite(Image.new("RGBA", img.size, BACKGROUND), img)
        return img.convert(mode)
    except ValueError as exc:  # a mode Pillow cannot convert (LAB, HSV ...)
        raise UnsupportedMode(f"Pillow mode {img.mode} cannot be converted to {mode} ({exc})") from None


def _high_byte(img):
    """A 16-bit grayscale image as L (value >> 8); its transparent value, if any, becomes white."""
    from PIL import Image
    values = np.asarray(img).astype(np.int64)
    if values.min(initial=0) < 0 or values.max(initial=0) > 65535:
        from .image_folder import UnsupportedMode
        raise UnsupportedMode(f"Pillow mode {img.mode} with values outside 0..65535")
    out = (values >> 8).astype(np.uint8)
    transparent = img.info.get("transparency")
    if isinstance(transparent, int):
        out[values == transparent] = 255
    return Image.fromarray(out, "L")
