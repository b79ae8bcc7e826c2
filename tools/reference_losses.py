#!/usr/bin/env python3
"""Reference values of the synthesis losses (METHOD.md §2-3) for the Swift tests.

Writes `Tests/ModelsTests/Fixtures/losses.safetensors`: random inputs, each loss value
and its gradient with respect to its inputs. Every key, shape and convention is listed in
`tools/README.md` ("losses.safetensors").

    python3 tools/reference_losses.py           # write and check
    python3 tools/reference_losses.py --check   # only check the existing file

The losses are computed in float64 from the float32 inputs (so the references carry no
float32 rounding of their own); results are stored as float32. The metadata key
`f32_vs_f64` records how far a float32 evaluation of the same code lands, as a guide
for tolerances.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

torch.set_num_threads(1)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "ModelsTests", "Fixtures", "losses.safetensors")
FORMAT = "sardfq-loss-fixture-v1"

KDE_BANDWIDTH = 0.01
KDE_POINTS = 10
ENTROPY_EPS = 1e-4


# --------------------------------------------------------------------------------------
# (a) PSAQ-ViT patch-similarity entropy
# --------------------------------------------------------------------------------------

def patch_similarity(attn_out: torch.Tensor, drop_first: bool) -> torch.Tensor:
    """attn_out (B_, H, N, d) -> cosine similarities (B_, M, M) of the head-averaged token
    vectors; M = N - 1 when the class token (index 0) is dropped."""
    p = attn_out.mean(dim=1)  # (B_, N, d)
    if drop_first:
        p = p[:, 1:, :]
    # torch.cosine_similarity: x.y / (max(|x|, 1e-8) * max(|y|, 1e-8))
    return torch.cosine_similarity(p.unsqueeze(1), p.unsqueeze(2), dim=3)  # [b, i, j] = cos(p_j, p_i)


def kde_entropy(values: torch.Tensor):
    """values (B, S): one set of similarity values per image.
    Returns (entropy averaged over the batch, grid (B, P), density (B, P)).
    Grid: P points evenly spaced between the batch-wide min and max, not differentiated."""
    B = values.shape[0]
    lo, hi = values.min().item(), values.max().item()
    grid = torch.linspace(lo, hi, steps=KDE_POINTS, dtype=values.dtype).repeat(B, 1)  # (B, P)
    var = KDE_BANDWIDTH ** 2
    diffs = grid.unsqueeze(2) - values.unsqueeze(1)  # (B, P, S)
    density = (torch.exp(-diffs.pow(2) / (2 * var)) / math.sqrt(2 * math.pi * var)).mean(dim=-1)  # (B, P)
    q = density + ENTROPY_EPS
    f = -q * torch.log(q)
    ent = torch.trapezoid(f, grid, dim=-1)  # (B,)
    return ent.mean(), grid, density


def pse_loss(attn_outs, drop_first: bool = True, batch: int | None = None):
    """-sum over blocks of the per-block entropy. For Swin pass the (B*nW, H, w^2, d) outputs
    with drop_first=False and batch=B: all windows of an image are pooled into one set."""
    total = 0.0
    ents, grids, dens = [], [], []
    for a in attn_outs:
        sims = patch_similarity(a, drop_first)
        b = batch or sims.shape[0]
        e, g, d = kde_entropy(sims.reshape(b, -1))
        total = total - e
        ents.append(e)
        grids.append(torch.stack([g[0, 0], g[0, -1]]))
        dens.append(d)
    return total, torch.stack(ents), torch.stack(grids), torch.stack(dens)


# --------------------------------------------------------------------------------------
# (b) APA: attention priors alignment
# --------------------------------------------------------------------------------------

def apa_blocks(L: int):
    """0-based block indices l >= L // 2 with weights (l + 1) / L."""
    return [(l, (l + 1) / L) for l in range(L // 2, L)]


def cls_attention(probs: torch.Tensor) -> torch.Tensor:
    """probs (B, H, N, N) -> class-token row without the CLS->CLS entry, renormalized: (B, H, N-1)."""
    row = probs[:, :, 0, 1:]
    return row / row.sum(dim=-1, keepdim=True)


def swin_attention_map(probs: torch.Tensor, batch: int, res, window, shift) -> torch.Tensor:
    """probs (B*nW, H, w*w, w*w), windows of the *shifted* grid in row-major window order per
    image -> (B, H, Hg*Wg): mean over queries, each window's row placed at its keys' grid
    positions, the cyclic shift undone, normalized to sum 1 per (image, head)."""
    Hg, Wg = res
    wh, ww = window
    nh, nw = Hg // wh, Wg // ww
    BnW, H, n, _ = probs.shape
    row = probs.mean(dim=2)  # (B*nW, H, w*w) averaged over the query tokens
    row = row.reshape(batch, nh, nw, H, wh, ww).permute(0, 3, 1, 4, 2, 5).reshape(batch, H, Hg, Wg)
    # shifted[p] = original[(p + s) mod size]  =>  original = roll(shifted, +s)
    if any(shift):
        row = torch.roll(row, shifts=tuple(shift), dims=(2, 3))
    row = row.reshape(batch, H, Hg * Wg)
    return row / row.sum(dim=-1, keepdim=True)


def apa_loss(maps, priors, L: int) -> torch.Tensor:
    """maps[l], priors[l]: (B, H_l, T_l). Sum over the latter-half blocks l (0-based l >= L//2)
    of ((l+1)/L) * sum over heads of MSE over the T_l positions; mean over the batch."""
    total = 0.0
    for l, w in apa_blocks(L):
        mse = (maps[l] - priors[l]).pow(2).mean(dim=-1)  # (B, H)
        total = total + w * mse.sum(dim=1).mean()
    return total


# --------------------------------------------------------------------------------------
# (c) soft cross-entropy, (d) total variation
# --------------------------------------------------------------------------------------

def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return -(targets * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()


def total_variation(x: torch.Tensor) -> torch.Tensor:
    d1 = x[..., :, :-1] - x[..., :, 1:]
    d2 = x[..., :-1, :] - x[..., 1:, :]
    d3 = x[..., 1:, :-1] - x[..., :-1, 1:]
    d4 = x[..., :-1, :-1] - x[..., 1:, 1:]
    return d1.norm() + d2.norm() + d3.norm() + d4.norm()


# --------------------------------------------------------------------------------------
# Fixture
# --------------------------------------------------------------------------------------

def grad_of(fn, inputs):
    """Evaluate fn(*inputs) in float64; return (value, [grad per input])."""
    xs = [x.detach().double().requires_grad_(True) for x in inputs]
    out = fn(*xs)
    val = out[0] if isinstance(out, tuple) else out
    grads = torch.autograd.grad(val, xs, allow_unused=True)
    grads = [torch.zeros_like(x) if g is None else g for x, g in zip(xs, grads)]
    return out, grads


def f32_value(fn, inputs) -> float:
    with torch.no_grad():
        out = fn(*[x.detach().float() for x in inputs])
    return float(out[0] if isinstance(out, tuple) else out)


def random_probs(g, shape, scale=2.0):
    return torch.softmax(scale * torch.randn(shape, generator=g), dim=-1)


def make() -> dict:
    g = torch.Generator().manual_seed(2024)
    t: dict[str, torch.Tensor] = {}
    meta: dict = {}
    f32 = {}

    # (a) PSE, ViT: 3 blocks, B=2, H=3, N=17 (CLS + 4x4 patches), d=8.
    B, H, N, D, NB = 2, 3, 17, 8, 3
    outs = [torch.randn((B, H, N, D), generator=g) for _ in range(NB)]
    fn = lambda *a: pse_loss(a, drop_first=True)
    (loss, ents, grids, dens), grads = grad_of(fn, outs)
    for j in range(NB):
        t[f"pse.attn_out{j}"] = outs[j]
        t[f"pse.grad.attn_out{j}"] = grads[j]
    t["pse.loss"] = loss.reshape(1)
    t["pse.entropy"] = ents
    t["pse.grid"] = grids
    t["pse.density"] = dens
    f32["pse.loss"] = abs(f32_value(fn, outs) - float(loss))

    # (a) PSE, Swin: one block, B=2 images, nW=4 windows (4x4 grid, window 2), H=2, w^2=4, d=8.
    SB, SNW, SH, SN, SD = 2, 4, 2, 4, 8
    sw = torch.randn((SB * SNW, SH, SN, SD), generator=g)
    fn = lambda a: pse_loss([a], drop_first=False, batch=SB)
    (loss, ents, grids, dens), grads = grad_of(fn, [sw])
    t["pse_swin.attn_out0"] = sw
    t["pse_swin.grad.attn_out0"] = grads[0]
    t["pse_swin.loss"] = loss.reshape(1)
    t["pse_swin.grid"] = grids
    t["pse_swin.density"] = dens
    f32["pse_swin.loss"] = abs(f32_value(fn, [sw]) - float(loss))

    # (b) APA, ViT: L=5 blocks (blocks 2, 3, 4 used, weights 3/5, 4/5, 5/5), B=2, H=3, N=17.
    L = 5
    probs = [random_probs(g, (B, H, N, N)) for _ in range(L)]
    priors = [torch.softmax(torch.randn((B, H, N - 1), generator=g), dim=-1) for _ in range(L)]

    def vit_apa(*ps):
        return apa_loss([cls_attention(p) for p in ps], priors_d, L)
    priors_d = [p.double() for p in priors]
    loss, grads = grad_of(vit_apa, probs)
    for l in range(L):
        t[f"apa.attn{l}"] = probs[l]
        t[f"apa.prior{l}"] = priors[l]
        t[f"apa.cls_attn{l}"] = cls_attention(probs[l].double())
        t[f"apa.grad.attn{l}"] = grads[l]
    t["apa.loss"] = loss.reshape(1)
    t["apa.loss_all_blocks_unweighted"] = sum(
        (cls_attention(p.double()) - q).pow(2).mean(-1).sum(1).mean() for p, q in zip(probs, priors_d)).reshape(1)

    # (b) APA, Swin: stages (8x8 grid, window 4, heads 2) and (4x4 grid, window 2, heads 3),
    # 2 blocks each, odd blocks shifted by window // 2. L = 4 -> blocks 2 and 3 used.
    sblocks = [dict(res=(8, 8), window=(4, 4), shift=(0, 0), heads=2),
               dict(res=(8, 8), window=(4, 4), shift=(2, 2), heads=2),
               dict(res=(4, 4), window=(2, 2), shift=(0, 0), heads=3),
               dict(res=(4, 4), window=(2, 2), shift=(1, 1), heads=3)]
    for b in sblocks:
        b["num_windows"] = (b["res"][0] // b["window"][0]) * (b["res"][1] // b["window"][1])
    sprobs, spriors = [], []
    for b in sblocks:
        n = b["window"][0] * b["window"][1]
        sprobs.append(random_probs(g, (B * b["num_windows"], b["heads"], n, n)))
        spriors.append(torch.softmax(torch.randn((B, b["heads"], b["res"][0] * b["res"][1]), generator=g), dim=-1))
    spriors_d = [p.double() for p in spriors]

    def swin_maps(ps):
        return [swin_attention_map(p, B, b["res"], b["window"], b["shift"]) for p, b in zip(ps, sblocks)]

    loss, grads = grad_of(lambda *ps: apa_loss(swin_maps(ps), spriors_d, len(sblocks)), sprobs)
    maps = swin_maps([p.double() for p in sprobs])
    for l in range(len(sblocks)):
        t[f"apa_swin.attn{l}"] = sprobs[l]
        t[f"apa_swin.prior{l}"] = spriors[l]
        t[f"apa_swin.map{l}"] = maps[l]
        t[f"apa_swin.grad.attn{l}"] = grads[l]
    t["apa_swin.loss"] = loss.reshape(1)
    meta["apa_swin_blocks"] = [dict(l=l, resolution=list(b["res"]), window=list(b["window"]),
                                    shift=list(b["shift"]), num_heads=b["heads"],
                                    num_windows=b["num_windows"]) for l, b in enumerate(sblocks)]

    # (c) soft cross-entropy, SL-style targets: Z = 0 except U(5, 10) at 1-3 classes.
    SCB, C = 4, 10
    logits = 3.0 * torch.randn((SCB, C), generator=g)
    z = torch.zeros((SCB, C))
    for i in range(SCB):
        k = 1 + i % 3
        idx = torch.randperm(C, generator=g)[:k]
        z[i, idx] = 5.0 + 5.0 * torch.rand((k,), generator=g)
    targets = torch.softmax(z, dim=-1)
    loss, grads = grad_of(soft_cross_entropy, [logits, targets])
    t["sce.logits"], t["sce.targets"], t["sce.z"] = logits, targets, z
    t["sce.loss"], t["sce.grad.logits"] = loss.reshape(1), grads[0]
    labels = torch.randint(0, C, (SCB,), generator=g)
    hard = torch.nn.functional.one_hot(labels, C).double()
    loss, grads = grad_of(lambda lg: soft_cross_entropy(lg, hard), [logits])
    t["ce.labels"], t["ce.loss"], t["ce.grad.logits"] = labels.float(), loss.reshape(1), grads[0]

    # (d) total variation.
    imgs = torch.randn((2, 3, 6, 7), generator=g)
    loss, grads = grad_of(total_variation, [imgs])
    t["tv.images"], t["tv.value"], t["tv.grad.images"] = imgs, loss.reshape(1), grads[0]
    f32["tv.value"] = abs(f32_value(total_variation, [imgs]) - float(loss))

    meta["f32_vs_f64"] = {k: f"{v:.3e}" for k, v in f32.items()}
    meta["constants"] = dict(kde_bandwidth=KDE_BANDWIDTH, kde_points=KDE_POINTS, entropy_eps=ENTROPY_EPS,
                             apa_blocks="0-based l >= L // 2, weight (l + 1) / L")
    return t, meta


def save(t, meta) -> None:
    t = {k: v.detach().to(torch.float32).contiguous() for k, v in t.items()}
    md = dict(format=FORMAT, torch_version=torch.__version__.split("+")[0])
    md.update({k: json.dumps(v) for k, v in meta.items()})
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_file(t, OUT, metadata=md)
    print(f"wrote {os.path.relpath(OUT, ROOT)}: {len(t)} tensors, {os.path.getsize(OUT) / 1e3:.1f} kB")


def swin_map_by_loops(probs, batch, res, window, shift):
    """Independent, index-by-index version of swin_attention_map, to cross-check it."""
    Hg, Wg = res
    wh, ww = window
    nw = Wg // ww
    nwin = (Hg // wh) * nw
    H = probs.shape[1]
    out = torch.zeros((batch, H, Hg, Wg), dtype=probs.dtype)
    for b in range(batch):
        for w in range(nwin):
            for h in range(H):
                for key in range(wh * ww):
                    sr = (w // nw) * wh + key // ww  # position in the shifted grid
                    sc = (w % nw) * ww + key % ww
                    r, c = (sr + shift[0]) % Hg, (sc + shift[1]) % Wg  # shifted[p] = x[p + s]
                    out[b, h, r, c] = probs[b * nwin + w, h, :, key].mean()
    out = out.reshape(batch, H, Hg * Wg)
    return out / out.sum(-1, keepdim=True)


def check() -> None:
    t = load_file(OUT)
    with safe_open(OUT, "pt") as f:
        md = f.metadata()
    assert md["format"] == FORMAT
    for k, v in t.items():
        assert v.dtype == torch.float32 and torch.isfinite(v).all(), k
    # Re-evaluate every loss from the stored (float32) inputs.
    d = {k: v.double() for k, v in t.items()}
    pse = pse_loss([d[f"pse.attn_out{j}"] for j in range(3)])[0]
    assert abs(float(pse) - float(t["pse.loss"])) < 1e-5 * max(1.0, abs(float(pse)))
    apa = apa_loss([cls_attention(d[f"apa.attn{l}"]) for l in range(5)], [d[f"apa.prior{l}"] for l in range(5)], 5)
    assert abs(float(apa) - float(t["apa.loss"])) < 1e-6 * max(1.0, abs(float(apa)))
    for l in range(2):  # blocks outside the latter half get no gradient
        assert t[f"apa.grad.attn{l}"].abs().max() == 0
    for l in range(2, 5):  # only the CLS row (minus its first entry) gets gradient
        gr = t[f"apa.grad.attn{l}"]
        assert gr[:, :, 1:, :].abs().max() == 0 and gr[:, :, 0, 0].abs().max() == 0 and gr.abs().max() > 0
    for blk in json.loads(md["apa_swin_blocks"]):
        l = blk["l"]
        m = t[f"apa_swin.map{l}"]
        assert torch.allclose(m.sum(-1), torch.ones_like(m.sum(-1)), atol=1e-5)
        ref = swin_map_by_loops(d[f"apa_swin.attn{l}"], m.shape[0], blk["resolution"], blk["window"], blk["shift"])
        assert torch.allclose(ref.float(), m, atol=1e-7), f"swin map {l} differs from the loop version"
    tv = total_variation(d["tv.images"])
    assert abs(float(tv) - float(t["tv.value"])) < 1e-5 * float(tv)
    for k in ("pse.loss", "pse_swin.loss", "apa.loss", "apa_swin.loss", "sce.loss", "ce.loss", "tv.value"):
        print(f"  {k} = {float(t[k]):.6g}")
    print(f"ok {os.path.basename(OUT)}: {len(t)} tensors, {os.path.getsize(OUT) / 1e3:.1f} kB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    if not args.check:
        save(*make())
    check()
    return 0


if __name__ == "__main__":
    sys.exit(main())
