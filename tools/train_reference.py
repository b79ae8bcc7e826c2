"""PyTorch/timm reference for the shipped-model training recipe (not run in CI).

Trains the same architecture as a sardfq preset on Fashion-MNIST (padded to 32x32, normalized with
the train-set mean/std) with the same recipe as `sardfq`'s Trainer: AdamW (decay on matrices only),
1 warm-up epoch then cosine to 1e-5 per step, batch 128, label smoothing 0.1, random crop (padding 2,
filled with black) + horizontal flip. Prints test top-1 after every epoch, so our training curve can
be compared with PyTorch's on the same recipe:

    python3 tools/train_reference.py --model vit-t --epochs 1 --threads 1
"""
import argparse, gzip, math, time
import numpy as np
import torch, timm
import torch.nn.functional as F

MEAN, STD = 0.21899983, 0.33181137
ROOT = "/usr/share/datasets/fashion-mnist"

def idx(path, images):
    with gzip.open(path) as f:
        data = np.frombuffer(f.read(), dtype=np.uint8)
    if images:
        x = data[16:].reshape(-1, 28, 28).astype(np.float32) / 255.0
        x = np.pad(x, ((0, 0), (2, 2), (2, 2)))
        return torch.from_numpy((x[:, None] - MEAN) / STD)
    return torch.from_numpy(data[8:].astype(np.int64))

def build(name):
    if name == "vit-t":
        return timm.models.vision_transformer.VisionTransformer(img_size=32, patch_size=4, in_chans=1, num_classes=10, embed_dim=64, depth=6, num_heads=2)
    if name == "vit-s":
        return timm.models.vision_transformer.VisionTransformer(img_size=32, patch_size=4, in_chans=1, num_classes=10, embed_dim=96, depth=6, num_heads=3)
    if name == "swin-t":
        return timm.models.swin_transformer.SwinTransformer(img_size=32, patch_size=2, in_chans=1, num_classes=10, embed_dim=32, depths=(2, 2, 2), num_heads=(2, 4, 8), window_size=4)
    raise SystemExit(f"unknown model {name}")

def augment(x, g, pad=2):
    b, _, h, w = x.shape
    fill = -MEAN / STD
    padded = F.pad(x, (pad, pad, pad, pad), value=fill)
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=g); dx = torch.randint(0, 2 * pad + 1, (b,), generator=g)
    out = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(b)])
    flip = torch.rand(b, generator=g) < 0.5
    out[flip] = out[flip].flip(-1)
    return out

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="vit-t"); ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-3); ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads); torch.manual_seed(0); g = torch.Generator().manual_seed(0)
    xtr, ytr = idx(f"{ROOT}/train-images-idx3-ubyte.gz", True), idx(f"{ROOT}/train-labels-idx1-ubyte.gz", False)
    xte, yte = idx(f"{ROOT}/t10k-images-idx3-ubyte.gz", True), idx(f"{ROOT}/t10k-labels-idx1-ubyte.gz", False)
    if a.limit: xtr, ytr = xtr[:a.limit], ytr[:a.limit]
    net = build(a.model)
    decay = [p for n, p in net.named_parameters() if p.ndim >= 2 and "pos_embed" not in n and "cls_token" not in n and "relative_position" not in n]
    rest = [p for n, p in net.named_parameters() if not any(p is q for q in decay)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": rest, "weight_decay": 0}], lr=a.lr)
    steps = len(xtr) // 128; total = steps * a.epochs; warm = steps
    step = 0; t0 = time.time()
    for ep in range(a.epochs):
        net.train(); perm = torch.randperm(len(xtr), generator=g)
        for b in range(steps):
            lr = a.lr * step / warm if step < warm else 1e-5 + 0.5 * (a.lr - 1e-5) * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))
            for pg in opt.param_groups: pg["lr"] = lr
            i = perm[b * 128:(b + 1) * 128]
            loss = F.cross_entropy(net(augment(xtr[i], g)), ytr[i], label_smoothing=0.1)
            opt.zero_grad(); loss.backward(); opt.step(); step += 1
        net.eval(); correct = 0
        with torch.no_grad():
            for s in range(0, len(xte), 500):
                correct += (net(xte[s:s + 500]).argmax(1) == yte[s:s + 500]).sum().item()
        print(f"{a.model} epoch {ep + 1}/{a.epochs} test top-1 {100 * correct / len(xte):.2f} % ({time.time() - t0:.0f} s)", flush=True)

if __name__ == "__main__":
    main()
