#!/usr/bin/env python3
"""Writes the damaged-file corpus of Tests/SynthesisTests/Fixtures/damaged (issue #19).

    python3 tools/make_damaged_files.py

Python 3 standard library only. Every file is small (a few hundred bytes; the largest, the
good checkpoint, 2.5 KB) and is either a correct file or damaged in one way: NaN/Inf
where integers belong, short rows, empty tensors, overflowing or lying dimensions, and
decompression bombs (gzip, PNG) whose inflated or resized size would take gigabytes.

manifest.json lists every file with the loader the Swift suite must use
(`checkpoint`, `imageset`, `idx`, `image`) and what must happen: `"ok"`, or a substring the
error message must contain (the suite also checks that the message names the file).
The output is deterministic (no timestamps, no randomness).
"""
import gzip
import json
import math
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "SynthesisTests", "Fixtures", "damaged")
GRAY_JPEG = os.path.join(HERE, "..", "Tests", "DatasetsTests", "Fixtures", "gray_25x25.jpg")
NAN, INF = float("nan"), float("inf")
manifest = []


def write(name, data, loader, expect):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    manifest.append({"file": name, "loader": loader, "expect": expect})


# MARK: - safetensors (checkpoints, image sets)

def safetensors(tensors, metadata=None, header_override=None):
    """tensors: list of (name, shape, values); F32 little-endian."""
    header, blobs, pos = {}, [], 0
    for name, shape, values in tensors:
        blob = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [pos, pos + len(blob)]}
        blobs.append(blob)
        pos += len(blob)
    if metadata:
        header["__metadata__"] = metadata
    if header_override:
        header_override(header)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def vit_arch(**over):
    c = {"depth": 1, "embedDim": 4, "eps": 1e-6, "imgSize": [4, 4], "inChans": 1, "mlpRatio": 1.0,
         "numClasses": 2, "numHeads": 1, "patchSize": 2, "qkvBias": True}
    c.update(over)
    return json.dumps({"vit": {"_0": c}}, sort_keys=True, separators=(",", ":"))


def vit_params():
    """The state dict of vit_arch(): a 4x4 gray input, 2x2 patches (N = 5 tokens), width 4."""
    d, hidden, classes = 4, 4, 2
    shapes = [("cls_token", [1, 1, d]), ("pos_embed", [1, 5, d]), ("patch_embed.proj.weight", [d, 1, 2, 2]),
              ("patch_embed.proj.bias", [d])]
    for k, s in [("norm1.weight", [d]), ("norm1.bias", [d]), ("attn.qkv.weight", [3 * d, d]), ("attn.qkv.bias", [3 * d]),
                 ("attn.proj.weight", [d, d]), ("attn.proj.bias", [d]), ("norm2.weight", [d]), ("norm2.bias", [d]),
                 ("mlp.fc1.weight", [hidden, d]), ("mlp.fc1.bias", [hidden]), ("mlp.fc2.weight", [d, hidden]),
                 ("mlp.fc2.bias", [d])]:
        shapes.append(("blocks.0." + k, s))
    shapes += [("norm.weight", [d]), ("norm.bias", [d]), ("head.weight", [classes, d]), ("head.bias", [classes])]
    out = []
    for k, (name, shape) in enumerate(shapes):
        n = math.prod(shape)
        base = 1.0 if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight" else 0.0
        out.append((name, shape, [base + 0.01 * ((7 * i + k) % 11 - 5) for i in range(n)]))
    return out


def checkpoints():
    meta = {"sardfq.architecture": vit_arch()}
    good = vit_params()
    write("ckpt_good.safetensors", safetensors(good, meta), "checkpoint", "ok")
    nan = [(n, s, [NAN] + v[1:]) if n == "head.bias" else (n, s, v) for n, s, v in good]
    write("ckpt_nan_weight.safetensors", safetensors(nan, meta), "checkpoint", "non-finite")
    inf = [(n, s, v[:-1] + [INF]) if n == "pos_embed" else (n, s, v) for n, s, v in good]
    write("ckpt_inf_weight.safetensors", safetensors(inf, meta), "checkpoint", "non-finite")
    write("ckpt_missing_tensor.safetensors", safetensors([t for t in good if t[0] != "head.weight"], meta), "checkpoint", "head.weight")
    write("ckpt_no_architecture.safetensors", safetensors(good[:1], {"format": "x"}), "checkpoint", "sardfq.architecture")
    write("ckpt_arch_not_json.safetensors", safetensors(good[:1], {"sardfq.architecture": "{vit"}), "checkpoint", "architecture")
    write("ckpt_arch_depth0.safetensors", safetensors(good[:1], {"sardfq.architecture": vit_arch(depth=0)}), "checkpoint", "depth")
    write("ckpt_arch_heads.safetensors", safetensors(good[:1], {"sardfq.architecture": vit_arch(numHeads=3)}), "checkpoint", "heads")
    write("ckpt_arch_huge_image.safetensors", safetensors(good[:1], {"sardfq.architecture": vit_arch(imgSize=[1 << 20, 4])}), "checkpoint", "image size")
    data = safetensors(good, meta)
    write("ckpt_truncated.safetensors", data[:len(data) - 100], "checkpoint", "truncated")

    def overflow(h):
        h["cls_token"]["shape"] = [1 << 32, 1 << 32, 1 << 4]
    write("ckpt_shape_overflow.safetensors", safetensors(good[:1], meta, overflow), "checkpoint", "too many bytes")
    write("ckpt_header_length_huge.safetensors", struct.pack("<Q", 1 << 62) + b"{}", "checkpoint", "header length")
    write("ckpt_empty.safetensors", b"", "checkpoint", "shorter than")


# MARK: - image sets (load_images and every synthesis cache entry)

def imageset_tensors(b=2, classes=3):
    c, h, w = 1, 4, 4
    images = [0.1 * ((i % 7) - 3) for i in range(b * c * h * w)]
    soft = [1.0 if j == i % classes else 0.0 for i in range(b) for j in range(classes)]
    return {
        "images": ([b, c, h, w], images),
        "labels": ([b], [float(i % classes) for i in range(b)]),
        "soft_targets": ([b, classes], soft),
        "draws.tau": ([1], [0.5]),
        "draws.jitter": ([3, 2], [0.0, 0.0, 1.0, 1.0, -2.0, -2.0]),
        "draws.flips": ([3], [0.0, 1.0, 0.0]),
        "draws.regions": ([2, 6], [0, 0, 0, 2, 2, 1, 1, 1, 2, 3, 2, 2]),
        "draws.image_z": ([b, classes], [0.0] * (b * classes)),
        "draws.region_z": ([2, classes], [0.0] * (2 * classes)),
        "draws.kept_patches": ([b, 2], [0.0, 3.0, 1.0, 2.0]),
        "draws.prior.0": ([b, 1, 4], [0.25] * (b * 4)),
    }


def imageset(changes=None, drop=(), meta=None):
    t = imageset_tensors()
    for k in drop:
        del t[k]
    for k, v in (changes or {}).items():
        t[k] = v
    m = {"format": "sardfq-imageset-v1", "method": "sardfq", "seed": "1", "mean": "0.5", "std": "0.25"}
    m.update(meta or {})
    return safetensors([(k, s, v) for k, (s, v) in t.items()], m)


def imagesets():
    write("imageset_good.safetensors", imageset(), "imageset", "ok")
    write("imageset_minimal.safetensors", imageset(drop=[k for k in imageset_tensors() if k.startswith("draws.")]), "imageset", "ok")
    bad = {
        "label_nan": ({"labels": ([2], [NAN, 1.0])}, "labels"),
        "label_inf": ({"labels": ([2], [0.0, INF])}, "labels"),
        "label_huge": ({"labels": ([2], [0.0, 1e30])}, "labels"),
        "label_fraction": ({"labels": ([2], [0.5, 1.0])}, "labels"),
        "label_out_of_range": ({"labels": ([2], [0.0, 3.0])}, "labels"),
        "label_negative": ({"labels": ([2], [-1.0, 0.0])}, "labels"),
        "labels_short": ({"labels": ([1], [0.0])}, "labels"),
        "jitter_nan": ({"draws.jitter": ([3, 2], [0.0, NAN, 1.0, 1.0, 0.0, 0.0])}, "draws.jitter"),
        "jitter_inf": ({"draws.jitter": ([3, 2], [0.0, 0.0, -INF, 1.0, 0.0, 0.0])}, "draws.jitter"),
        "jitter_one_column": ({"draws.jitter": ([6, 1], [0.0] * 6)}, "draws.jitter"),
        "flips_nan": ({"draws.flips": ([3], [0.0, NAN, 1.0])}, "draws.flips"),
        "flips_count": ({"draws.flips": ([2], [0.0, 1.0])}, "draws.flips"),
        "regions_short_rows": ({"draws.regions": ([2, 5], [0.0] * 10)}, "draws.regions"),
        "regions_1d": ({"draws.regions": ([6], [0, 0, 0, 2, 2, 1])}, "draws.regions"),
        "regions_nan": ({"draws.regions": ([1, 6], [0, 0, NAN, 2, 2, 1])}, "draws.regions"),
        "regions_outside": ({"draws.regions": ([1, 6], [0, 3, 3, 2, 2, 1])}, "draws.regions"),
        "regions_bad_image": ({"draws.regions": ([1, 6], [5, 0, 0, 2, 2, 1])}, "draws.regions"),
        "tau_empty": ({"draws.tau": ([0], [])}, "draws.tau"),
        "tau_two": ({"draws.tau": ([2], [0.5, 0.5])}, "draws.tau"),
        "tau_nan": ({"draws.tau": ([1], [NAN])}, "draws.tau"),
        "kept_patches_1d": ({"draws.kept_patches": ([4], [0.0, 1.0, 2.0, 3.0])}, "draws.kept_patches"),
        "kept_patches_nan": ({"draws.kept_patches": ([2, 2], [0.0, NAN, 1.0, 2.0])}, "draws.kept_patches"),
        "images_3d": ({"images": ([2, 4, 4], [0.0] * 32)}, "images"),
        "images_nan": ({"images": ([2, 1, 4, 4], [NAN] + [0.0] * 31)}, "images"),
        "images_empty": ({"images": ([0, 1, 4, 4], [])}, "images"),
        "soft_targets_rows": ({"soft_targets": ([3, 3], [0.0] * 9)}, "soft_targets"),
        "soft_targets_1d": ({"soft_targets": ([6], [0.0] * 6)}, "soft_targets"),
        "soft_targets_inf": ({"soft_targets": ([2, 3], [INF] + [0.0] * 5)}, "soft_targets"),
        "image_z_shape": ({"draws.image_z": ([2, 2], [0.0] * 4)}, "draws.image_z"),
        "region_z_nan": ({"draws.region_z": ([2, 3], [NAN] + [0.0] * 5)}, "draws.region_z"),
        "prior_2d": ({"draws.prior.0": ([2, 4], [0.25] * 8)}, "draws.prior.0"),
        "prior_bad_name": ({"draws.prior.x": ([2, 1, 4], [0.25] * 8)}, "draws.prior.x"),
    }
    for name, (changes, expect) in bad.items():
        write("imageset_%s.safetensors" % name, imageset(changes), "imageset", expect)
    write("imageset_no_labels.safetensors", imageset(drop=["labels"]), "imageset", "labels")
    write("imageset_wrong_format.safetensors", imageset(meta={"format": "something-else"}), "imageset", "format")
    write("imageset_mean_missing.safetensors", imageset(meta={"mean": ""}), "imageset", "mean")
    write("imageset_truncated.safetensors", imageset()[:120], "imageset", "truncated")


# MARK: - IDX

def idx(dims, data=b""):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def idx_files():
    write("idx_good.idx", idx([2, 3], bytes(range(6))), "idx", "ok")
    write("idx_good.idx.gz", gz(idx([2, 3], bytes(range(6)))), "idx", "ok")
    # Four dimensions of 2^32 - 1 multiply past Int.max: used to trap.
    write("idx_dims_overflow.idx", idx([0xFFFFFFFF] * 4), "idx", "limit")
    write("idx_dims_overflow.idx.gz", gz(idx([0xFFFFFFFF] * 4)), "idx", "limit")
    write("idx_dims_too_large.idx", idx([60000, 28, 28], b"\0" * 16), "idx", "need")
    write("idx_dims_over_bound.idx", idx([1 << 16, 1 << 16]), "idx", "limit")
    write("idx_zero_rank.idx", idx([]), "idx", "dimensions")
    write("idx_truncated_header.idx", bytes([0, 0, 8, 3, 0, 0]), "idx", "truncated")
    write("idx_bad_type.idx", bytes([0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0]), "idx", "unsigned byte")
    # A gzip bomb: the header promises 4 bytes, the stream inflates to 1 MiB (the issue's
    # 4 GB version has the same shape; the reader stops one byte past the promise).
    write("idx_gzip_bomb.idx.gz", gz(idx([2, 2]) + b"\0" * (1 << 20)), "idx", "inflates to more than")
    good = gz(idx([2, 3], bytes(range(6))))
    write("idx_gzip_truncated.idx.gz", good[:len(good) - 6], "idx", "zlib")
    write("idx_empty.idx", b"", "idx", "too short")


# MARK: - PNG / JPEG

def png(width, height, color_type, bit_depth, raw, chunks_after=b""):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunks_after + chunk(b"IEND", b"")


def images():
    rgb = b"".join(b"\0" + bytes((x * 40 + y * 20 + c * 60) % 256 for x in range(4) for c in range(3)) for y in range(4))
    write("img_good_4x4.png", png(4, 4, 2, 8, rgb), "image", "ok")
    write("img_good_gray_1x1.png", png(1, 1, 0, 8, b"\0\x80"), "image", "ok")
    # The issue's bombs: 1-bit gray rows compress to almost nothing.
    write("img_bomb_1000000x1.png", png(1_000_000, 1, 0, 1, b"\0" + b"\0" * 125_000), "image", "1000000x1")
    write("img_bomb_2x50000.png", png(2, 50_000, 0, 1, b"\0\0" * 50_000), "image", "2x50000")
    # Passes the decode bound (60 000 pixels) but its eval resize (short side 256) would be 256 x 3.84 M.
    write("img_resize_bomb_2x30000.png", png(2, 30_000, 0, 1, b"\0\0" * 30_000), "image", "resiz")
    write("img_bomb_30000x30000.png", png(30_000, 30_000, 0, 1, b""), "image", "30000x30000")
    good = png(4, 4, 2, 8, rgb)
    write("img_truncated.png", good[:len(good) - 20], "image", "libpng")
    bad_crc = bytearray(good)
    bad_crc[29] ^= 0xFF  # inside IHDR's CRC
    write("img_bad_crc.png", bytes(bad_crc), "image", "libpng")
    write("img_zero_width.png", png(0, 4, 2, 8, b""), "image", "libpng")
    write("img_not_an_image.png", b"GIF89a not a png", "image", "signature")
    write("img_empty.png", b"", "image", "signature")
    jpg = open(GRAY_JPEG, "rb").read()
    # Patch the SOF0/SOF2 frame size to 60000 x 60000 and cut the entropy-coded data: the header
    # alone claims 3.6 G pixels (10 GB of RGB).
    i = 2
    sof = None
    while i < len(jpg):
        marker, length = jpg[i + 1], struct.unpack(">H", jpg[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            sof = i
        if marker == 0xDA:
            sos_end = i + 2 + length
            break
        i += 2 + length
    big = bytearray(jpg[:sos_end] + b"\xff\xd9")
    big[sof + 5:sof + 9] = struct.pack(">HH", 60000, 60000)
    write("img_jpeg_60000x60000.jpg", bytes(big), "image", "60000x60000")
    write("img_jpeg_truncated.jpg", jpg[:len(jpg) // 2], "image", "truncated")


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    checkpoints()
    imagesets()
    idx_files()
    images()
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    sizes = [os.path.getsize(os.path.join(OUT, m["file"])) for m in manifest]
    print("%d files, %d bytes in all, largest %d bytes" % (len(sizes), sum(sizes), max(sizes)))


if __name__ == "__main__":
    main()
