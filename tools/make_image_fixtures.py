#!/usr/bin/env python3
"""Makes the image fixtures of Tests/DatasetsTests/Fixtures (not run in CI).

    pip install pillow numpy
    python3 tools/make_image_fixtures.py

For a few tiny generated images (JPEG and PNG in several modes) it writes
  <name>                   the source image,
  <name>.decoded.png       Pillow's decode, Image.open(f).convert("RGB"), saved losslessly,
  <case>.expected.png      timm's eval preprocessing in uint8 as Pillow + torchvision do it:
                           Resize(floor(size / crop_pct)) (short side, torchvision's size rule,
                           Image.resize without reducing_gap), then CenterCrop(size)
                           (round-half-even offsets, black padding when the crop is larger),
and manifest.json describing every case. The Swift tests decode the sources with our
libjpeg/libpng shims, run our Resample/EvalTransform, and compare with these files.

torchvision itself is not needed: its two rules are re-implemented below in a few lines.
The committed fixtures were made with Python 3.11.7, Pillow 13.0.0 and numpy 2.4.6 (about 105 KB).
"""
import json
import math
import os

import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "DatasetsTests", "Fixtures")
FILTERS = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}


def pattern(w, h, rng):
    """A smooth gradient plus sharp edges and noise, so resampling overshoots and clamps."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / max(w - 1, 1)
    g = 255 * y / max(h - 1, 1)
    b = 127.5 + 127.5 * np.sin(x / 3.0 + y / 5.0)
    img = np.stack([r, g, b], axis=-1)
    img[(x // 6 + y // 6) % 2 == 0] *= 0.3          # checkerboard: hard edges
    img[h // 3 : h // 3 + 2, :, :] = 255            # a white bar
    img += rng.normal(0, 12, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def resize_size(w, h, size, crop_pct):
    """timm scale_size, then torchvision Resize(int) for the short side."""
    s = math.floor(size / crop_pct)
    if w <= h:
        return s, int(s * h / w)
    return int(s * w / h), s


def center_crop(img, size):
    """torchvision.transforms.functional.center_crop on a PIL image."""
    w, h = img.size
    if size > w or size > h:
        l = (size - w) // 2 if size > w else 0
        t = (size - h) // 2 if size > h else 0
        r = (size - w + 1) // 2 if size > w else 0
        b = (size - h + 1) // 2 if size > h else 0
        padded = Image.new(img.mode, (w + l + r, h + t + b), 0)
        padded.paste(img, (l, t))
        img = padded
        w, h = img.size
        if (w, h) == (size, size):
            return img
    top = int(round((h - size) / 2.0))
    left = int(round((w - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240607)
    sources = {}

    a = pattern(37, 29, rng)
    Image.fromarray(a, "RGB").save(os.path.join(OUT, "photo_37x29.jpg"), quality=90)
    sources["photo_37x29.jpg"] = "RGB JPEG, 4:2:0, quality 90"

    a = pattern(50, 64, rng)
    Image.fromarray(a, "RGB").save(os.path.join(OUT, "photo_50x64.png"))
    sources["photo_50x64.png"] = "RGB PNG 8-bit"

    g = pattern(20, 15, rng)[:, :, 0]
    Image.fromarray(g, "L").save(os.path.join(OUT, "gray_20x15.png"))
    sources["gray_20x15.png"] = "gray PNG 8-bit"

    p = Image.fromarray(pattern(33, 33, rng), "RGB").quantize(colors=16)
    p.info["transparency"] = 3
    p.save(os.path.join(OUT, "palette_33x33.png"), transparency=3)
    sources["palette_33x33.png"] = "palette PNG with tRNS"

    rgba = np.concatenate([pattern(30, 40, rng), rng.integers(0, 256, (40, 30, 1), dtype=np.uint8)], axis=-1)
    Image.fromarray(rgba, "RGBA").save(os.path.join(OUT, "rgba_30x40.png"))
    sources["rgba_30x40.png"] = "RGBA PNG (alpha dropped, not composited)"

    g = pattern(25, 25, rng)[:, :, 1]
    Image.fromarray(g, "L").save(os.path.join(OUT, "gray_25x25.jpg"), quality=85)
    sources["gray_25x25.jpg"] = "gray JPEG"

    # 16-bit gray: Pillow's own I;16 -> RGB conversion clamps instead of scaling, so the expected
    # decode is defined by us (high byte, libpng png_set_strip_16) and computed with numpy.
    g16 = (np.arange(9 * 7, dtype=np.uint32).reshape(7, 9) * 1031 + 17).astype(np.uint16)
    Image.fromarray(g16).save(os.path.join(OUT, "gray16_9x7.png"))
    hi = (g16 >> 8).astype(np.uint8)
    Image.fromarray(np.stack([hi] * 3, axis=-1), "RGB").save(os.path.join(OUT, "gray16_9x7.png.decoded.png"))

    a = pattern(160, 120, rng)
    Image.fromarray(a, "RGB").save(os.path.join(OUT, "photo_160x120.jpg"), quality=75)
    sources["photo_160x120.jpg"] = "RGB JPEG, 4:2:0, quality 75, ImageNet-like aspect"

    decoded = {}
    for name in sources:
        im = Image.open(os.path.join(OUT, name)).convert("RGB")
        im.save(os.path.join(OUT, name + ".decoded.png"))
        decoded[name] = im

    cases = [
        ("photo_37x29.jpg", 24, 0.875, "bicubic"),
        ("photo_37x29.jpg", 24, 1.2, "bicubic"),   # crop larger than the resized image: padding
        ("photo_50x64.png", 16, 0.9, "bicubic"),   # 3x downscale: antialiasing support
        ("gray_20x15.png", 32, 0.875, "bicubic"),  # upscale
        ("palette_33x33.png", 24, 1.0, "bicubic"),
        ("rgba_30x40.png", 20, 0.95, "bilinear"),
        ("gray_25x25.jpg", 28, 1.0, "bicubic"),
        ("photo_160x120.jpg", 56, 0.875, "bicubic"),  # 500x375 -> 256 -> 224 scaled down by 3.5
    ]
    manifest = {"pillow": Image.__version__, "sources": sources, "decoded16": ["gray16_9x7.png"], "cases": []}
    for i, (name, size, crop_pct, interp) in enumerate(cases):
        im = decoded[name]
        rw, rh = resize_size(im.width, im.height, size, crop_pct)
        out = center_crop(im.resize((rw, rh), FILTERS[interp]), size)
        expected = f"case{i}_{os.path.splitext(name)[0]}_{size}.expected.png"
        out.save(os.path.join(OUT, expected))
        manifest["cases"].append({"source": name, "size": size, "crop_pct": crop_pct, "interpolation": interp,
                                  "resized": [rw, rh], "expected": expected})
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
