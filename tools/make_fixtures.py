#!/usr/bin/env python3
"""Make the model conformance fixtures for the Swift `Models` target from timm.

Every fixture is a safetensors file in `Tests/ModelsTests/Fixtures/`. The format
(key names, shapes, metadata, the deterministic "formula" weights) is specified
in `tools/README.md`; keep the two in sync.

Usage (from the repository root):

    python3 tools/make_fixtures.py            # writes all fixtures
    python3 tools/make_fixtures.py --check    # only re-loads and checks existing files

Not run in CI: the fixtures are committed. Torch runs on one thread so that it
does not compete with Swift builds on the shared 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys

import numpy as np
import torch
import timm
from safetensors.torch import load_file, save_file
from safetensors import safe_open
from timm.models.swin_transformer import SwinTransformer
from timm.models.vision_transformer import VisionTransformer
from timm.models.deit import VisionTransformerDistilled

torch.set_num_threads(1)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "Tests", "ModelsTests", "Fixtures")
FORMAT = "sardfq-model-fixture-v1"
BATCH = 2

# Keys of LayerNorm *weights* (gamma). In the formula weights these get 1 + f(i, k).
# The script asserts that this regex selects exactly the LayerNorm weights of each model.
LAYERNORM_WEIGHT_RE = re.compile(r"(^|\.)(norm|norm1|norm2|fc_norm)\.weight$")


# --------------------------------------------------------------------------------------
# Model construction
# --------------------------------------------------------------------------------------

def vit_config(**kw) -> dict:
    cfg = dict(
        family="vit", img_size=None, patch_size=None, in_chans=3, num_classes=1000,
        embed_dim=None, depth=None, num_heads=None, mlp_ratio=4.0, qkv_bias=True,
        window_size=None, class_token=True, global_pool="token", eps=1e-6,
        act="gelu_erf", pos_embed="learned, includes class token (N = 1 + grid_h*grid_w)",
    )
    cfg.update(kw)
    h, w = cfg["img_size"]
    p = cfg["patch_size"]
    cfg["grid_size"] = [h // p, w // p]
    cfg["num_tokens"] = (2 if cfg.get("distilled") else 1) + (h // p) * (w // p)
    return cfg


def swin_config(**kw) -> dict:
    cfg = dict(
        family="swin", img_size=None, patch_size=None, in_chans=3, num_classes=1000,
        embed_dim=None, depths=None, num_heads=None, mlp_ratio=4.0, qkv_bias=True,
        window_size=None, class_token=False, global_pool="avg", eps=1e-5,
        act="gelu_erf", patch_norm=True, absolute_pos_embed=False,
        downsample_at_stage_start=True, attn_mask_value=-100.0,
    )
    cfg.update(kw)
    return cfg


def build(cfg: dict) -> torch.nn.Module:
    if cfg["family"] == "vit":
        # A distillation token (DeiT's distilled models): timm's VisionTransformerDistilled.
        m = (VisionTransformerDistilled if cfg.get("distilled") else VisionTransformer)(
            img_size=tuple(cfg["img_size"]), patch_size=cfg["patch_size"], in_chans=cfg["in_chans"],
            num_classes=cfg["num_classes"], embed_dim=cfg["embed_dim"], depth=cfg["depth"],
            num_heads=cfg["num_heads"], mlp_ratio=cfg["mlp_ratio"], qkv_bias=cfg["qkv_bias"],
            class_token=cfg["class_token"], global_pool=cfg["global_pool"],
            drop_rate=0.0, drop_path_rate=0.0,
        )
    else:
        m = SwinTransformer(
            img_size=tuple(cfg["img_size"]), patch_size=cfg["patch_size"], in_chans=cfg["in_chans"],
            num_classes=cfg["num_classes"], embed_dim=cfg["embed_dim"], depths=tuple(cfg["depths"]),
            num_heads=tuple(cfg["num_heads"]), window_size=cfg["window_size"], mlp_ratio=cfg["mlp_ratio"],
            qkv_bias=cfg["qkv_bias"], global_pool=cfg["global_pool"],
            drop_rate=0.0, drop_path_rate=0.0,
        )
        # Record per-block geometry (timm clips the window to the stage resolution and
        # then disables the shift) so the Swift side can check its own derivation.
        blocks = []
        l = 0
        for s, stage in enumerate(m.layers):
            for b, blk in enumerate(stage.blocks):
                res = list(blk.input_resolution)
                win = list(blk.window_size)
                blocks.append(dict(
                    l=l, stage=s, block=b, resolution=res, window=win, shift=list(blk.shift_size),
                    num_heads=blk.attn.num_heads, dim=blk.dim,
                    num_windows=(res[0] // win[0]) * (res[1] // win[1]),
                ))
                l += 1
        cfg["blocks"] = blocks
        cfg["stage_dims"] = [cfg["embed_dim"] * 2 ** i for i in range(len(cfg["depths"]))]
    m.eval()
    # Unfused attention so the softmax probabilities exist as a tensor we can hook.
    for mod in m.modules():
        if hasattr(mod, "fused_attn"):
            mod.fused_attn = False
    check_layernorm_regex(m)
    return m


def check_layernorm_regex(m: torch.nn.Module) -> None:
    ln = {f"{n}.weight" for n, mod in m.named_modules() if isinstance(mod, torch.nn.LayerNorm)}
    by_re = {k for k in m.state_dict() if LAYERNORM_WEIGHT_RE.search(k)}
    assert ln == by_re, f"LayerNorm regex mismatch: {sorted(ln ^ by_re)}"


def randomize(m: torch.nn.Module, seed: int) -> None:
    """Non-trivial random weights (timm's init has zero biases and unit LayerNorms,
    which would not test the loading of those). Drawn in state_dict order from one
    seeded generator. Scales keep activations O(1) so attention is far from uniform."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for k, p in m.state_dict().items():
            if LAYERNORM_WEIGHT_RE.search(k):
                v = 1.0 + 0.2 * torch.randn(p.shape, generator=g)
            elif k.endswith("relative_position_bias_table"):
                v = torch.randn(p.shape, generator=g)
            elif k in ("cls_token", "pos_embed"):
                v = 0.5 * torch.randn(p.shape, generator=g)
            elif p.dim() == 1:  # biases (linear, conv, LayerNorm beta)
                v = 0.2 * torch.randn(p.shape, generator=g)
            else:  # linear (out, in) / conv (out, in, kh, kw) weights: std 1/sqrt(fan_in)
                fan_in = p[0].numel()
                v = torch.randn(p.shape, generator=g) / math.sqrt(fan_in)
            p.copy_(v)


_M32 = np.uint64(0xFFFFFFFF)


def hash_uniform(seed: int, n: int) -> np.ndarray:
    """r[i] in [-1, 1), float64, for i = 0..n-1: a 32-bit integer hash (murmur3's fmix32)
    of (i + 0x9E3779B9 * seed) mod 2^32, mapped to 2 * (x / 2^32) - 1. Every step is exact
    integer or exactly-rounded IEEE arithmetic, so Swift reproduces it bit for bit."""
    i = np.arange(n, dtype=np.uint64)
    x = (i + np.uint64((0x9E3779B9 * seed) & 0xFFFFFFFF)) & _M32
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x85EBCA6B)) & _M32
    x ^= x >> np.uint64(13)
    x = (x * np.uint64(0xC2B2AE35)) & _M32
    x ^= x >> np.uint64(16)
    return 2.0 * (x.astype(np.float64) / 4294967296.0) - 1.0


def formula_values(k: int, key: str, shape) -> np.ndarray:
    """Deterministic weights of the k-th state-dict entry (see tools/README.md):
    LayerNorm weight: 1 + 0.2 r; rank >= 2 `*.weight`: sqrt(3 / fan_in) r with
    fan_in = numel / shape[0]; anything else: 0.2 r. In float64, then rounded to float32."""
    n = int(np.prod(shape))
    r = hash_uniform(k + 1, n)
    if LAYERNORM_WEIGHT_RE.search(key):
        v = 1.0 + 0.2 * r
    elif key.endswith(".weight") and len(shape) >= 2:
        v = math.sqrt(3.0 / (n // shape[0])) * r
    else:
        v = 0.2 * r
    return v.astype(np.float32)


def formula_fill(m: torch.nn.Module) -> None:
    with torch.no_grad():
        for k, (key, p) in enumerate(m.state_dict().items()):
            p.copy_(torch.from_numpy(formula_values(k, key, tuple(p.shape))).reshape(p.shape))


def formula_input(shape) -> torch.Tensor:
    """x[i] = float32(r[i]) with hash seed 0, over the flattened (B, C, H, W) input."""
    return torch.from_numpy(hash_uniform(0, int(np.prod(shape))).astype(np.float32)).reshape(shape)


# --------------------------------------------------------------------------------------
# Running with hooks
# --------------------------------------------------------------------------------------

def attention_modules(m: torch.nn.Module):
    """Attention modules in block order: ViT `blocks.l.attn`, Swin `layers.s.blocks.b.attn`
    (Swin's l counts blocks across all stages)."""
    return [mod for name, mod in m.named_modules()
            if name.endswith(".attn") and hasattr(mod, "attn_drop") and hasattr(mod, "qkv")]


def run(m: torch.nn.Module, x: torch.Tensor, loss_weight: torch.Tensor | None, capture: bool = True):
    """Forward (+ backward of loss = sum(logits * loss_weight)). Returns dict of outputs."""
    probs, outs, handles = [], [], []
    if capture:
        for att in attention_modules(m):
            # attn_drop's input is the softmax output (dropout is identity in eval mode).
            handles.append(att.attn_drop.register_forward_pre_hook(
                lambda mod, inp: probs.append(inp[0].detach().clone())))
            # proj's input is softmax(QK^T/sqrt(d) + bias) V with heads concatenated: (B_, N, H*d).
            nh = att.num_heads

            def proj_pre(mod, inp, nh=nh):
                t = inp[0].detach()
                b_, n, c = t.shape
                outs.append(t.reshape(b_, n, nh, c // nh).permute(0, 2, 1, 3).contiguous())
            handles.append(att.proj.register_forward_pre_hook(proj_pre))
    x = x.clone().requires_grad_(loss_weight is not None)
    m.zero_grad(set_to_none=True)
    logits = m(x)
    for h in handles:
        h.remove()
    with torch.no_grad():
        feats = m.forward_head(m.forward_features(x.detach()), pre_logits=True)
    res = dict(logits=logits.detach(), probs=probs, outs=outs, pre_logits=feats)
    if loss_weight is not None:
        loss = (logits * loss_weight).sum()
        loss.backward()
        res["input_grad"] = x.grad.detach().clone()
        res["param_grads"] = {k: p.grad.detach().clone() for k, p in m.named_parameters()
                              if p.grad is not None}
    return res


def f64_logits(m: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    import copy
    m64 = copy.deepcopy(m).double()
    with torch.no_grad():
        return m64(x.double())


# --------------------------------------------------------------------------------------
# Saving
# --------------------------------------------------------------------------------------

def versions() -> dict:
    return dict(timm_version=timm.__version__, torch_version=torch.__version__.split("+")[0])


def save(name: str, tensors: dict, cfg: dict, extra_meta: dict | None = None) -> str:
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, f"{name}.safetensors")
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in tensors.items()}
    meta = dict(format=FORMAT, name=name, config=json.dumps(cfg, sort_keys=True), **versions())
    for k, v in (extra_meta or {}).items():
        meta[k] = v if isinstance(v, str) else json.dumps(v)
    save_file(tensors, path, metadata=meta)
    print(f"wrote {os.path.relpath(path, ROOT)}: {len(tensors)} tensors, {os.path.getsize(path)/1e3:.1f} kB")
    return path


def key_list(m: torch.nn.Module) -> list:
    return [[k, list(v.shape)] for k, v in m.state_dict().items()]


def non_persistent_buffers(m: torch.nn.Module) -> list:
    sd = set(m.state_dict())
    return sorted({re.sub(r"\.\d+\.", ".N.", n) for n, _ in m.named_buffers() if n not in sd})


def make_random_fixture(name: str, cfg: dict, seed: int, param_grads: str | None = None) -> None:
    """A random-weight fixture with all weights stored. `param_grads`: None, "all",
    or a regex selecting which parameter gradients to store as `__grad__.<key>`."""
    torch.manual_seed(seed)
    m = build(cfg)
    randomize(m, seed)
    g = torch.Generator().manual_seed(seed + 1)
    h, w = cfg["img_size"]
    x = torch.randn((BATCH, cfg["in_chans"], h, w), generator=g)
    lw = torch.randn((BATCH, cfg["num_classes"]), generator=g)
    r = run(m, x, lw)
    tensors = dict(m.state_dict())
    tensors.update(__input__=x, __logits__=r["logits"], __loss_weight__=lw,
                   __input_grad__=r["input_grad"], __pre_logits__=r["pre_logits"])
    for l, (p, o) in enumerate(zip(r["probs"], r["outs"])):
        tensors[f"__attn_block{l}__"] = p
        tensors[f"__attn_out_block{l}__"] = o
    if param_grads is not None:
        for k, gr in r["param_grads"].items():
            if param_grads == "all" or re.search(param_grads, k):
                tensors[f"__grad__.{k}"] = gr
    err = (f64_logits(m, x) - r["logits"].double()).abs().max().item()
    save(name, tensors, dict(cfg, weights="random", seed=seed, batch=BATCH),
         dict(state_dict_keys=key_list(m), non_persistent_buffers=non_persistent_buffers(m),
              f32_vs_f64_max_abs_logit_diff=f"{err:.3e}"))


def make_formula_fixture(name: str, cfg: dict, batch: int, input_kind: str,
                         with_grad: bool, capture: str) -> None:
    """Formula weights, nothing of the state dict stored (only its key list and shapes in
    the metadata). input_kind: "formula" (hash seed 0, not stored) or "randn" (stored).
    capture: "full" (probabilities and outputs per block), "cls" (CLS rows only) or "none"."""
    m = build(cfg)
    formula_fill(m)
    h, w = cfg["img_size"]
    shape = (batch, cfg["in_chans"], h, w)
    if input_kind == "formula":
        x = formula_input(shape)
    else:
        x = torch.randn(shape, generator=torch.Generator().manual_seed(7))
    lw = torch.randn((batch, cfg["num_classes"]), generator=torch.Generator().manual_seed(8)) if with_grad else None
    r = run(m, x, lw, capture=capture != "none")
    tensors = dict(__logits__=r["logits"])
    if r["pre_logits"] is not None:
        tensors["__pre_logits__"] = r["pre_logits"]
    if input_kind != "formula":
        tensors["__input__"] = x
    if with_grad:
        tensors.update(__loss_weight__=lw, __input_grad__=r["input_grad"])
    if capture == "full":
        for l, (p, o) in enumerate(zip(r["probs"], r["outs"])):
            tensors[f"__attn_block{l}__"] = p
            tensors[f"__attn_out_block{l}__"] = o
    elif capture == "cls":
        # (L, H, N): row 0 (the class token's query) of every block's probabilities, image 0.
        tensors["__cls_attn__"] = torch.stack([p[0, :, 0, :] for p in r["probs"]])
    err = (f64_logits(m, x) - r["logits"].double()).abs().max().item()
    # Per-key float64 sums of the float32 formula weights, to debug a Swift re-implementation.
    sums = {k: float(v.double().sum()) for k, v in m.state_dict().items()}
    sums["__input__"] = float(x.double().sum())
    save(name, tensors, dict(cfg, weights="formula", batch=batch, input=input_kind),
         dict(state_dict_keys=key_list(m), non_persistent_buffers=non_persistent_buffers(m),
              f32_vs_f64_max_abs_logit_diff=f"{err:.3e}", formula_sums=sums))


# --------------------------------------------------------------------------------------
# The fixture list
# --------------------------------------------------------------------------------------

def make_all() -> None:
    make_random_fixture("vit_tiny_odd", vit_config(
        img_size=[32, 48], patch_size=8, in_chans=3, num_classes=7, embed_dim=60, depth=2,
        num_heads=5, mlp_ratio=2.0, qkv_bias=True), seed=1)
    make_random_fixture("vit_gray", vit_config(
        img_size=[32, 32], patch_size=4, in_chans=1, num_classes=10, embed_dim=48, depth=3,
        num_heads=3, mlp_ratio=4.0, qkv_bias=True), seed=2, param_grads="all")
    make_random_fixture("swin_small_odd", swin_config(
        img_size=[32, 32], patch_size=2, in_chans=1, num_classes=10, embed_dim=24,
        depths=[2, 2, 2], num_heads=[1, 3, 3], window_size=4, mlp_ratio=2.0), seed=3,
        param_grads=r"relative_position_bias_table|downsample|patch_embed|^head\.|^norm\.")
    make_random_fixture("swin_rgb", swin_config(
        img_size=[56, 56], patch_size=4, in_chans=3, num_classes=5, embed_dim=24,
        depths=[2, 2], num_heads=[3, 6], window_size=7), seed=4)
    # DeiT-Tiny's exact config (timm `deit_tiny_patch16_224`: patch 16, dim 192, 3 heads,
    # mlp 4, qkv_bias) at 64x64 with 2 blocks. Formula weights: its 1.23 M parameters
    # would not fit the fixture size budget.
    make_formula_fixture("deit_like", vit_config(
        timm_name="deit_tiny_patch16_224", img_size=[64, 64], patch_size=16, in_chans=3,
        num_classes=1000, embed_dim=192, depth=2, num_heads=3, mlp_ratio=4.0, qkv_bias=True),
        batch=2, input_kind="randn", with_grad=True, capture="full")
    make_formula_fixture("deit_tiny_formula", vit_config(
        timm_name="deit_tiny_patch16_224", img_size=[224, 224], patch_size=16, in_chans=3,
        num_classes=1000, embed_dim=192, depth=12, num_heads=3, mlp_ratio=4.0, qkv_bias=True),
        batch=1, input_kind="formula", with_grad=False, capture="cls")
    make_formula_fixture("swin_tiny_formula", swin_config(
        timm_name="swin_tiny_patch4_window7_224", img_size=[224, 224], patch_size=4, in_chans=3,
        num_classes=1000, embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24],
        window_size=7), batch=1, input_kind="formula", with_grad=False, capture="none")
    for make in GEOMETRY_FIXTURES.values():
        make()


# Geometries no preset has, loaded by `model("vit"|"swin", weights:)` from the shapes alone
# (Tests/ModelsTests/GeometryInferenceTests.swift).
GEOMETRY_FIXTURES = {
    "vit_40_p5": lambda: make_random_fixture("vit_40_p5", vit_config(
        img_size=[40, 40], patch_size=5, in_chans=3, num_classes=3, embed_dim=80, depth=2,
        num_heads=5, mlp_ratio=2.0, qkv_bias=True), seed=5),
    "deit_distilled_2ch": lambda: make_random_fixture("deit_distilled_2ch", vit_config(
        img_size=[64, 64], patch_size=8, in_chans=2, num_classes=5, embed_dim=64, depth=2,
        num_heads=2, mlp_ratio=2.0, qkv_bias=True, distilled=True,
        pos_embed="learned, includes class and distillation tokens (N = 2 + grid_h*grid_w)"), seed=7),
    "swin_one_stage": lambda: make_random_fixture("swin_one_stage", swin_config(
        img_size=[16, 16], patch_size=2, in_chans=3, num_classes=4, embed_dim=16,
        depths=[2], num_heads=[2], window_size=4, mlp_ratio=4.0), seed=6),
}


def check_timm_presets() -> None:
    """The configs named `timm_name` must give the same keys/shapes as timm's registered model."""
    for name, kw in [("deit_tiny_patch16_224", dict(img_size=64, depth=2)),
                     ("deit_tiny_patch16_224", {}), ("swin_tiny_patch4_window7_224", {})]:
        ref = timm.create_model(name, pretrained=False, **kw)
        fx = "deit_like" if kw else ("deit_tiny_formula" if "deit" in name else "swin_tiny_formula")
        with safe_open(os.path.join(OUT_DIR, f"{fx}.safetensors"), "pt") as f:
            keys = json.loads(f.metadata()["state_dict_keys"])
        ours = [[k, list(v.shape)] for k, v in ref.state_dict().items()]
        assert keys == ours, f"{fx}: key list differs from timm.create_model('{name}')"
        print(f"{fx}: key list equals timm.create_model('{name}', **{kw})")


def check_hash_spec() -> None:
    """The vectorised hash must equal the scalar spec written in tools/README.md."""
    def spec(s, i):
        x = (i + 0x9E3779B9 * s) & 0xFFFFFFFF
        x ^= x >> 16
        x = (x * 0x85EBCA6B) & 0xFFFFFFFF
        x ^= x >> 13
        x = (x * 0xC2B2AE35) & 0xFFFFFFFF
        x ^= x >> 16
        return 2.0 * (x / 4294967296.0) - 1.0
    for s in (0, 1, 7, 200):
        v = hash_uniform(s, 5000)
        assert all(spec(s, i) == v[i] for i in range(0, 5000, 37)), s
    assert spec(0, 0) == -1.0 and spec(1, 0) == 0.1467951601371169


def check_all() -> None:
    check_hash_spec()
    total = 0
    for fn in sorted(os.listdir(OUT_DIR)):
        if not fn.endswith(".safetensors"):
            continue
        path = os.path.join(OUT_DIR, fn)
        total += os.path.getsize(path)
        t = load_file(path)
        with safe_open(path, "pt") as f:
            meta = f.metadata()
        for k, v in t.items():
            assert v.dtype == torch.float32, (fn, k, v.dtype)
            assert torch.isfinite(v).all(), (fn, k)
        if "__logits__" in t:
            lg = t["__logits__"]
            spread = (lg.max(dim=1).values - lg.min(dim=1).values).min().item()
            assert spread > 1e-3, f"{fn}: logits nearly constant (spread {spread})"
            cfg = json.loads(meta["config"])
            assert meta["format"] == FORMAT
            assert lg.shape == (cfg["batch"], cfg["num_classes"])
            for k in ("__input_grad__",):
                if k in t:
                    assert t[k].abs().max() > 0, (fn, k)
            for k, v in t.items():
                if k.startswith("__attn_block"):
                    s = v.sum(-1)
                    assert torch.allclose(s, torch.ones_like(s), atol=1e-5), (fn, k)
            print(f"ok {fn}: {len(t)} tensors, logits {tuple(lg.shape)} spread>={spread:.3g}, "
                  f"f32-f64 {meta.get('f32_vs_f64_max_abs_logit_diff')}")
        else:
            print(f"ok {fn}: {len(t)} tensors")
    print(f"total fixture size {total/1e6:.2f} MB")
    assert total < 5e6, "fixtures exceed the 5 MB budget"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="only check existing fixtures")
    ap.add_argument("--only", nargs="+", choices=sorted(GEOMETRY_FIXTURES), help="make only these geometry fixtures")
    args = ap.parse_args()
    if args.only:
        for name in args.only:
            GEOMETRY_FIXTURES[name]()
        return 0
    if not args.check:
        make_all()
    check_timm_presets()
    check_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
