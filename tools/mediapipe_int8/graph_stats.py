"""What a model's graph computes in which precision: per op type, MACs, conversions.

Used by the report (which ops were quantized) and the benchmark (share of MACs in int8, and
QUANTIZE/DEQUANTIZE ops left inside the graph rather than at its inputs and outputs).
"""

import collections

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from mediapipe_int8 import tflite_file

INT8, INT16, FLOAT_INT8_WEIGHTS, FLOAT, CONVERSION = (
    "int8", "int16", "float, int8 weights", "float", "conversion")
_OPS = schema.BuiltinOperator
_MAC_OPS = {_OPS.CONV_2D, _OPS.DEPTHWISE_CONV_2D, _OPS.FULLY_CONNECTED, _OPS.TRANSPOSE_CONV,
            _OPS.BATCH_MATMUL}


def op_precision(model: schema.ModelT, op, dequantized_from: dict[int, int]) -> str:
  """int8 / int16 (activations), float with int8 weights, float, or conversion."""
  graph = model.subgraphs[0]
  code = tflite_file.builtin_code(model, op)
  if code in (_OPS.QUANTIZE, _OPS.DEQUANTIZE):
    return CONVERSION
  activation_types, int_weights = set(), False
  for i in op.inputs:
    if i < 0:
      continue
    tensor = graph.tensors[i]
    if tflite_file.is_constant(model, tensor):
      int_weights |= tensor.type == schema.TensorType.INT8
    else:
      activation_types.add(tensor.type)
      int_weights |= dequantized_from.get(int(i)) == schema.TensorType.INT8
  if schema.TensorType.INT8 in activation_types:
    return INT8
  if schema.TensorType.INT16 in activation_types:
    return INT16
  return FLOAT_INT8_WEIGHTS if int_weights else FLOAT


def dequantized_from(model) -> dict[int, int]:
  """Output tensor -> type of the constant it dequantizes (weight-only models' weights)."""
  graph = model.subgraphs[0]
  out = {}
  for op in graph.operators:
    if tflite_file.builtin_code(model, op) == _OPS.DEQUANTIZE:
      source = graph.tensors[int(op.inputs[0])]
      if tflite_file.is_constant(model, source):
        out[int(op.outputs[0])] = source.type
  return out


def op_precisions(model: schema.ModelT) -> dict[str, dict[str, int]]:
  """Per op type, how many ops run in each precision."""
  dequantized = dequantized_from(model)
  table = collections.defaultdict(collections.Counter)
  for op in model.subgraphs[0].operators:
    name = tflite_file.op_name(tflite_file.builtin_code(model, op))
    table[name][op_precision(model, op, dequantized)] += 1
  return {name: dict(sorted(counts.items())) for name, counts in sorted(table.items())}


def macs(model: schema.ModelT, op) -> int:
  """Multiply-accumulates of one conv / depthwise / fully-connected op (0 for others)."""
  graph = model.subgraphs[0]
  code = tflite_file.builtin_code(model, op)
  if code not in _MAC_OPS:
    return 0
  out = graph.tensors[int(op.outputs[0])]
  out_elements = int(np.prod([max(int(d), 1) for d in out.shape]))
  weights = [int(d) for d in graph.tensors[int(op.inputs[1])].shape]
  if code == _OPS.CONV_2D:  # weights: out_ch, kh, kw, in_ch
    return out_elements * weights[1] * weights[2] * weights[3]
  if code == _OPS.DEPTHWISE_CONV_2D:  # weights: 1, kh, kw, out_ch
    return out_elements * weights[1] * weights[2]
  if code == _OPS.TRANSPOSE_CONV:
    return out_elements * weights[1] * weights[2] * weights[3]
  return out_elements * weights[-1]  # fully connected / batch matmul: out x in features


def mac_share(model: schema.ModelT) -> dict[str, float]:
  """Total conv/FC MACs and the share computed with int8 (or int16) activations."""
  dequantized = dequantized_from(model)
  total, by_precision = 0, collections.Counter()
  for op in model.subgraphs[0].operators:
    n = macs(model, op)
    if n:
      total += n
      by_precision[op_precision(model, op, dequantized)] += n
  return {"macs": total, "int8_share": by_precision[INT8] / total if total else 0.0,
          "int16_share": by_precision[INT16] / total if total else 0.0}


def inner_conversions(model: schema.ModelT) -> int:
  """QUANTIZE/DEQUANTIZE ops on activations that are not at the model's inputs or outputs."""
  graph = model.subgraphs[0]
  ends = {int(i) for i in graph.inputs} | {int(i) for i in graph.outputs}
  count = 0
  for op in graph.operators:
    if tflite_file.builtin_code(model, op) not in (_OPS.QUANTIZE, _OPS.DEQUANTIZE):
      continue
    source = graph.tensors[int(op.inputs[0])]
    if tflite_file.is_constant(model, source):
      continue  # a weight dequantized once (weight-only recipes), not an activation conversion
    if int(op.inputs[0]) in ends or int(op.outputs[0]) in ends:
      continue
    count += 1
  return count
