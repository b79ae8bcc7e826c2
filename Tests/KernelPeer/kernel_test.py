"""The Jupyter kernel against Jupyter's own client libraries (jupyter_client, nbclient).

Run by KernelTests.swift with the venv that `make test` makes:
    python kernel_test.py SARDFQ_BINARY RECIPES_DIR WORK_DIR
Prints one line per check and exits non-zero on the first failure.
"""
import base64, json, os, subprocess, sys, time

sardfq, recipes, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
prefix = os.path.join(work, "prefix")
subprocess.run([sardfq, "kernel", "install", "--prefix", prefix], check=True)
os.environ["JUPYTER_PATH"] = os.path.join(prefix, "share", "jupyter")
os.environ["SARDFQ_CACHE"] = os.path.join(work, "cache")

import nbformat
from nbclient import NotebookClient
from jupyter_client.manager import start_new_kernel


def check(ok, what):
    if not ok:
        print("FAIL: " + what, flush=True)
        sys.exit(1)
    print("ok: " + what, flush=True)


def png_size(b64):
    raw = base64.b64decode(b64)
    if raw[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")


# 1. The tutorial as a notebook, executed cell by cell by nbclient.
ipynb = os.path.join(work, "tutorial.ipynb")
subprocess.run([sardfq, "notebook", os.path.join(recipes, "tutorial.dfq"), "--quick", "-o", ipynb], check=True)
nb = nbformat.read(ipynb, as_version=4)
check(nb.cells[1].source == ":quick" and len(nb.cells) >= 10, "the notebook has a cell per section and the --quick command")
NotebookClient(nb, kernel_name="sardfq", timeout=600, resources={"metadata": {"path": work}}).execute()
outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
pngs = [png_size(o["data"]["image/png"]) for o in outputs if "image/png" in o.get("data", {})]
check(len(pngs) >= 4 and all(s and s[0] > 0 and s[1] > 0 for s in pngs), f"figures arrive as PNGs that decode: {pngs}")
tables = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
check(any("<td>psaq_entropy</td>" in t and "<td>soft_cross_entropy</td>" in t for t in tables), "the losses table arrives as HTML with its rows")
text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
check("blocks: 6, classes: 10" in text, "printed output is a stream")
progress = [o["data"]["text/plain"] for o in outputs if o.get("output_type") == "display_data" and o["data"].get("text/plain", "").startswith("synthesize")]
check(any("4/4" in p for p in progress), f"progress reports end at their last step: {progress[:2]}")

# 2. State, errors, completion, inspection and interrupt over jupyter_client.
km, kc = start_new_kernel(kernel_name="sardfq", cwd=work)
try:
    def run(code, timeout=120):
        msgs = []
        reply = kc.execute_interactive(code, timeout=timeout, output_hook=msgs.append)
        return reply["content"], msgs

    content, _ = run("let kept = 41")
    check(content["status"] == "ok", "a cell runs")
    content, msgs = run("print(kept + 1)")
    check([m["content"]["text"] for m in msgs if m["msg_type"] == "stream"] == ["42\n"], "the next cell sees the variable")
    content, msgs = run("kept * 2")
    results = [m["content"]["data"]["text/plain"] for m in msgs if m["msg_type"] == "execute_result"]
    check(results == ["82"], f"a last expression is the execute_result: {results}")
    content, msgs = run('synthesize(model("vit-t"), method: "noise", images: 4)')
    shown = [png_size(m["content"]["data"]["image/png"]) for m in msgs if m["msg_type"] == "execute_result" and "image/png" in m["content"]["data"]]
    check(len(shown) == 1 and shown[0] and shown[0][0] > 0, f"an image set as the last value is a PNG: {shown}")
    content, msgs = run("print(1)\nprint(nope_name)")
    errors = [m["content"] for m in msgs if m["msg_type"] == "error"]
    check(content["status"] == "error" and errors and errors[0]["evalue"].startswith("cell[") and ":2:7: error: unknown name 'nope_name'" in errors[0]["evalue"],
          f"an error names the cell's line and column: {errors[0]['evalue'] if errors else content}")
    kc.complete("let y = synthe", 14)
    reply = kc.get_shell_msg(timeout=30)["content"]
    check("synthesize" in reply["matches"] and reply["cursor_start"] == 8, f"completion: {reply['matches'][:5]}")
    kc.inspect("synthesize(", 11)
    reply = kc.get_shell_msg(timeout=30)["content"]
    check(reply["found"] and "synthesize" in reply["data"]["text/plain"], "inspection gives the builtin's help")
    kc.is_complete("fn f(x) {")
    check(kc.get_shell_msg(timeout=30)["content"]["status"] == "incomplete", "an open brace is incomplete")

    msg_id = kc.execute('let big = synthesize(model("vit-t"), method: "sardfq", images: 8, iters: 100000, seed: 0)')
    time.sleep(3)
    started = time.time()
    km.interrupt_kernel()
    while True:
        reply = kc.get_shell_msg(timeout=120)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    check(reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt",
          f"an interrupt stops a long synthesize ({time.time() - started:.1f} s): {reply['content'].get('ename')}")
    content, msgs = run("print(kept)")
    check([m["content"]["text"] for m in msgs if m["msg_type"] == "stream"] == ["41\n"], "after the interrupt the state is kept")
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=False)
print("kernel: all checks passed")
