"""Rewrite a float32 TFLite model with float16 weights (how the iris model in edge/models was made).

    python scripts/tflite_fp16.py IN.tflite OUT.tflite

Every constant float32 tensor larger than 1 KiB becomes a float16 tensor feeding a DEQUANTIZE op whose
output is the original tensor, the layout the TFLite converter itself uses for float16 weights. The
interpreter runs it unchanged (XNNPACK folds the dequantisation); the file is about half the size.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.tools import flatbuffer_utils


def to_fp16(model: schema.ModelT, min_bytes: int = 1024) -> int:
    """Convert in place; returns how many tensors were converted."""
    dequant = next((i for i, c in enumerate(model.operatorCodes)
                    if max(c.builtinCode, c.deprecatedBuiltinCode) == schema.BuiltinOperator.DEQUANTIZE), None)
    if dequant is None:
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.DEQUANTIZE
        code.version = 1
        model.operatorCodes.append(code)
        dequant = len(model.operatorCodes) - 1
    converted = 0
    for graph in model.subgraphs:
        new_ops = []
        for index, tensor in enumerate(graph.tensors):
            buf = model.buffers[tensor.buffer] if tensor.buffer else None
            if tensor.type != schema.TensorType.FLOAT32 or buf is None or buf.data is None or len(buf.data) < min_bytes:
                continue
            values = np.frombuffer(bytes(bytearray(buf.data)), dtype=np.float32)
            half = schema.BufferT()
            half.data = np.frombuffer(values.astype(np.float16).tobytes(), dtype=np.uint8)
            model.buffers.append(half)
            weight = schema.TensorT()
            weight.shape, weight.type = tensor.shape, schema.TensorType.FLOAT16
            weight.buffer, weight.name = len(model.buffers) - 1, (tensor.name or b"") + b"_fp16"
            graph.tensors.append(weight)
            buf.data = None  # the float32 tensor is now computed by the DEQUANTIZE op
            op = schema.OperatorT()
            op.opcodeIndex, op.inputs, op.outputs = dequant, [len(graph.tensors) - 1], [index]
            new_ops.append(op)
            converted += 1
        graph.operators = new_ops + list(graph.operators)
    return converted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    args = ap.parse_args()
    model = flatbuffer_utils.read_model(args.src)
    n = to_fp16(model)
    flatbuffer_utils.write_model(model, args.dst)
    print(f"{n} weight tensors -> float16; {args.src.stat().st_size} -> {args.dst.stat().st_size} bytes")


if __name__ == "__main__":
    main()
