"""PyTorch eager reference times for `sardfq bench models` (not run in CI).

Times forward and forward+backward-to-the-input at batch 32 with timm's models, the same geometries
as `sardfq bench models`, median of --reps runs after one warm-up, prints a Markdown table and
writes the times with the CPU they were measured on to --out (default .bench/pytorch.json), which
`sardfq bench models` reads for its PyTorch column when it runs on the same CPU within two hours:

    python3 tools/bench_pytorch.py --threads 2 --reps 9 && .build/release/sardfq bench models
"""
import argparse, json, os, statistics, time
import torch, timm
from timm.models.vision_transformer import VisionTransformer
from timm.models.swin_transformer import SwinTransformer

MODELS = {
    "vit-t": lambda: VisionTransformer(img_size=32, patch_size=4, in_chans=1, num_classes=10, embed_dim=64, depth=6, num_heads=2),
    "vit-s": lambda: VisionTransformer(img_size=32, patch_size=4, in_chans=1, num_classes=10, embed_dim=96, depth=6, num_heads=3),
    "swin-t": lambda: SwinTransformer(img_size=32, patch_size=2, in_chans=1, num_classes=10, embed_dim=32, depths=(2, 2, 2), num_heads=(2, 4, 8), window_size=4),
    "deit_tiny_patch16_224": lambda: timm.create_model("deit_tiny_patch16_224", pretrained=False),
}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2); ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--model", default="")
    ap.add_argument("--out", default=".bench/pytorch.json")
    a = ap.parse_args()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
    record = {"cpu": cpu, "threads": a.threads, "unix_time": time.time(), "torch": torch.__version__, "timm": timm.__version__, "models": {}}
    torch.set_num_threads(a.threads); torch.manual_seed(0)
    print(f"PyTorch {torch.__version__}, timm {timm.__version__}, {a.threads} threads, batch 32, median of {a.reps}")
    print("| model | forward ms | fwd+bwd to input ms |\n|---|---:|---:|")
    for name, make in MODELS.items():
        if a.model and name != a.model: continue
        net = make().eval()
        for p in net.parameters(): p.requires_grad_(False)
        c, s = (1, 32) if name != "deit_tiny_patch16_224" else (3, 224)
        x = torch.randn(32, c, s, s)
        def fwd():
            with torch.no_grad(): net(x)
        def fwdbwd():
            xi = x.clone().requires_grad_(True)
            net(xi).logsumexp(1).sum().backward()
        times = []
        for f in (fwd, fwdbwd):
            f(); ts = []
            for _ in range(a.reps):
                t0 = time.perf_counter(); f(); ts.append((time.perf_counter() - t0) * 1000)
            times.append(statistics.median(ts))
        print(f"| {name} | {times[0]:.1f} | {times[1]:.1f} |", flush=True)
        record["models"][name] = {"forward_ms": times[0], "forward_backward_ms": times[1]}
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    with open(a.out, "w") as f: json.dump(record, f, indent=1)
    print(f"wrote {a.out}")

if __name__ == "__main__":
    main()
