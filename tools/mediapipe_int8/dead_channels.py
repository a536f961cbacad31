"""Repairs the bias of output channels whose weights are all zero, after static quantization.

Such a channel outputs its bias alone. ai-edge-quantizer gives its all-zero weights a scale near
zero (about 1e-13), so the bias scale (input scale x weight scale) is near zero too and the bias
overflows int32: the channel then outputs about 0 instead of its bias. Google's hand landmarks
model has hundreds of such channels (653 of 1152 in one layer). The weights' scale of an all-zero
channel is free to choose; this sets it to the median of the layer's other channels and
quantizes the float bias again with the scale that follows.
"""

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from mediapipe_int8 import tflite_file

_BIAS_INPUT = {
    schema.BuiltinOperator.CONV_2D: 2,
    schema.BuiltinOperator.DEPTHWISE_CONV_2D: 2,
    schema.BuiltinOperator.FULLY_CONNECTED: 2,
    schema.BuiltinOperator.TRANSPOSE_CONV: 3,
}
_BIAS_TYPES = {schema.TensorType.INT32: np.int32, schema.TensorType.INT64: np.int64}
_WEIGHT_TYPES = {schema.TensorType.INT8: np.int8, schema.TensorType.INT16: np.int16}


def repair(quantized: schema.ModelT, float_model: schema.ModelT) -> int:
  """Fixes `quantized` in place; returns how many channels it repaired. Float biases come from
  `float_model` (the model that was quantized), found by tensor name."""
  float_graph = float_model.subgraphs[0]
  float_biases = {t.name: t for t in float_graph.tensors if t.type == schema.TensorType.FLOAT32}
  graph = quantized.subgraphs[0]
  repaired = 0
  for op in graph.operators:
    bias_input = _BIAS_INPUT.get(tflite_file.builtin_code(quantized, op))
    if bias_input is None or len(op.inputs) <= bias_input or op.inputs[bias_input] < 0:
      continue
    data_input = 2 if bias_input == 3 else 0
    activations, weights = graph.tensors[op.inputs[data_input]], graph.tensors[op.inputs[1]]
    bias = graph.tensors[op.inputs[bias_input]]
    if (weights.type not in _WEIGHT_TYPES or bias.type not in _BIAS_TYPES
        or activations.quantization is None or activations.quantization.scale is None
        or weights.quantization is None or bias.quantization is None
        or bias.name not in float_biases):
      continue
    values = tflite_file.constant_values(quantized, weights, _WEIGHT_TYPES[weights.type])
    float_bias = tflite_file.constant_values(float_model, float_biases[bias.name], np.float32)
    if values is None or float_bias is None:
      continue
    scales = np.asarray(weights.quantization.scale, np.float32)
    if scales.size < 2:
      continue
    axis = weights.quantization.quantizedDimension
    rows = np.moveaxis(values.reshape(weights.shape), axis, 0).reshape(scales.size, -1)
    dead = ~rows.any(axis=1)
    if not dead.any() or dead.all():
      continue
    scales[dead] = np.median(scales[~dead])
    input_scale = float(np.asarray(activations.quantization.scale).ravel()[0])
    bias_scales = np.asarray(bias.quantization.scale, np.float32).copy()
    bias_scales[dead] = input_scale * scales[dead]
    dtype = _BIAS_TYPES[bias.type]
    ints = tflite_file.constant_values(quantized, bias, dtype).copy()
    limit = np.iinfo(dtype)
    ints[dead] = np.clip(np.round(float_bias[dead].astype(np.float64) / bias_scales[dead]),
                         limit.min, limit.max).astype(dtype)
    weights.quantization.scale = scales
    bias.quantization.scale = bias_scales
    quantized.buffers[bias.buffer].data = np.frombuffer(ints.tobytes(), np.uint8)
    repaired += int(dead.sum())
  return repaired
