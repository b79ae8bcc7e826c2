"""Writes an ImageNet-layout folder of JPEGs for throughput measurements:
    python3 tools/make_imagefolder.py OUT [--classes 10] [--per-class 200] [--size 320x280]
OUT/val/n0000000k/img_XXXXX.JPEG, smooth random colour fields (so JPEG decoding does real work).
Not a dataset: the labels mean nothing; accuracy on it is chance."""
import argparse, os
import numpy as np
from PIL import Image

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--classes", type=int, default=10)
ap.add_argument("--per-class", type=int, default=200)
ap.add_argument("--size", default="320x280")
a = ap.parse_args()
w, h = map(int, a.size.split("x"))
rng = np.random.default_rng(0)
for c in range(a.classes):
    d = os.path.join(a.out, "val", f"n{c:08d}")
    os.makedirs(d, exist_ok=True)
    for i in range(a.per_class):
        small = rng.integers(0, 256, size=(h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((w, h), Image.BILINEAR)
        img.save(os.path.join(d, f"img_{c * a.per_class + i:05d}.JPEG"), quality=90)
print(f"wrote {a.classes * a.per_class} JPEGs under {a.out}/val")
