"""Empirical bias correction: the mean output shift that int8 weights cause, taken out of each bias.

Rounding a conv's weights to int8 (symmetric, per output channel: scale max|w| / 127, numpy's
round half to even, as ai-edge-quantizer does) changes what each output channel computes by
(rounded - float weights) x input. Its mean over the data, (rounded - float) x mean input, is a
shift of that channel's output, and shifts of one sign add up through a deep network. Subtracting
it from the channel's bias, with mean inputs observed on the calibration samples in the float
model, is Nagel et al.'s bias correction (2019, "Data-Free Quantization Through Weight
Equalization and Bias Correction", empirical variant).

Measured on Google's pose detector (pose_landmarker_full.task): int8 weights alone lower the
person score logit at the best anchors by 0.30 on average on five held-out people (0.68 on the
cameraman, whom float scores 0.48, just above MediaPipe's 0.5 threshold: lost); with the
correction 0.19 and 0.32, and the int8 detector keeps him.
"""

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from mediapipe_int8 import ranges, tflite_file

# Op -> the axis of its weights' per-channel int8 scales (the output channels); tf_graph too.
CHANNEL_AXIS = {schema.BuiltinOperator.CONV_2D: 0, schema.BuiltinOperator.DEPTHWISE_CONV_2D: 3}


def int8_weights(weights: np.ndarray, axis: int) -> np.ndarray:
  """Float weights as the engine's symmetric per-channel int8 makes them, dequantized: q * scale,
  which the engine quantizes again to the same q (so learned int8 hands its weights back this way,
  reconstruct.py)."""
  others = tuple(a for a in range(weights.ndim) if a != axis)
  scale = np.abs(weights).max(axis=others, keepdims=True) / 127.0
  scale = np.where(scale == 0, 1.0, scale)  # an all-zero channel stays zero
  return np.clip(np.round(weights / scale), -127, 127) * scale


def correct(model: schema.ModelT, float_model: bytes, samples: list[list[np.ndarray]]) -> int:
  """Corrects the float biases of `model` (whose bytes are `float_model`) in place, for every conv
  and depthwise conv with a float bias; returns how many ops it corrected."""
  graph = model.subgraphs[0]
  convs = []
  for op in graph.operators:
    axis = CHANNEL_AXIS.get(tflite_file.builtin_code(model, op))
    if axis is None or len(op.inputs) < 3 or op.inputs[2] < 0:
      continue
    weights, bias = graph.tensors[op.inputs[1]], graph.tensors[op.inputs[2]]
    reads_own_channel = axis == 0 or weights.shape[3] == graph.tensors[op.inputs[0]].shape[-1]
    if (weights.type == schema.TensorType.FLOAT32 == bias.type and reads_own_channel
        and tflite_file.is_constant(model, weights)):
      convs.append((op, axis))
  sums = {}
  for interpreter in ranges.each_run(float_model, samples):
    for op, _ in convs:
      index = int(op.inputs[0])
      values = interpreter.get_tensor(index).astype(np.float64)
      sums[index] = sums.get(index, 0.0) + values.reshape(-1, values.shape[-1]).mean(0)
  for op, axis in convs:
    weights, bias = graph.tensors[op.inputs[1]], graph.tensors[op.inputs[2]]
    w = tflite_file.constant_values(model, weights, np.float32).reshape(weights.shape).astype(np.float64)
    error = int8_weights(w, axis) - w
    mean_input = sums[int(op.inputs[0])] / len(samples)
    if axis == 3:  # depthwise, 1 x H x W x C: channel c reads input channel c
      shift = (error[0] * mean_input).sum((0, 1))
    else:  # O x H x W x I
      shift = (error * mean_input).sum((1, 2, 3))
    corrected = (tflite_file.constant_values(model, bias, np.float32) - shift).astype(np.float32)
    model.buffers[bias.buffer].data = np.frombuffer(corrected.tobytes(), np.uint8)
  return len(convs)
