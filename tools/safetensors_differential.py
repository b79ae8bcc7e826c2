#!/usr/bin/env python3
"""Differential check of our safetensors reader against the reference implementation.

For every file in the given folders (e.g. the fuzz corpus of `make fuzz`, .build/fuzz/corpus/
safetensors/found, and the damaged-file fixtures), asks the reference (`safetensors.numpy.load`,
pip package `safetensors`) and ours (`sardfq-fuzz safetensors --verdict`) whether the file is
valid. A file we accept that the reference refuses is a finding (exit status 1). Files the
reference accepts and we refuse are listed too: our reader is stricter on purpose in places
(non-finite values are allowed by the format, refused by checkpoint loading, not here).

    python3 tools/safetensors_differential.py .build/fuzz/corpus/safetensors/found Tests/SynthesisTests/Fixtures/damaged
"""
import os
import subprocess
import sys

import safetensors.numpy as st


def reference_accepts(data):
    try:
        st.load(data)
        return True, ""
    except Exception as e:  # the reference raises SafetensorError or ValueError variants
        return False, str(e).splitlines()[0][:120]


def main(folders):
    binary = os.environ.get("SARDFQ_FUZZ", ".build/release/sardfq-fuzz")
    files = []
    for folder in folders:
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                files.append(path)
    ours = {}
    for k in range(0, len(files), 200):
        out = subprocess.run([binary, "safetensors", "--verdict"] + files[k:k + 200],
                             capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            path, verdict = line.split("\t", 1)
            ours[path] = verdict
    accepted_by_us_only, refused_by_us_only, agree = [], [], 0
    for path in files:
        ref_ok, ref_why = reference_accepts(open(path, "rb").read())
        our_ok = ours[path] == "accept"
        if our_ok == ref_ok:
            agree += 1
        elif our_ok:
            accepted_by_us_only.append((path, ref_why))
        else:
            refused_by_us_only.append((path, ours[path]))
    print(f"{len(files)} files: {agree} same verdict, {len(accepted_by_us_only)} accepted only by us, "
          f"{len(refused_by_us_only)} refused only by us")
    for path, why in accepted_by_us_only:
        print(f"FINDING accepted by us, refused by the reference: {path}: {why}")
    for path, why in refused_by_us_only[:20]:
        print(f"stricter: {path}: {why[:160]}")
    return 1 if accepted_by_us_only else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
