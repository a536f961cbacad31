"""Keeps a landmark output's resolution in int8: a template folded out of it, added back in float.

The face landmarks model's 1434 outputs (478 landmarks' x, y, z in crop pixels) share one int8
range, 0 to about 280 px: 1.10 px per int8 step, which costs 0.47% NME alone. Their means over
the calibration crops are a face template. With the template subtracted from the bias of the
conv that makes the output, the int8 model computes only each landmark's offset from it, a few
tens of pixels wide; one float ADD after the output's DEQUANTIZE adds the template back (1434
additions, no MACs). An output gets a template only where that narrows its range by a quarter or
more: on the nine calibration people's crops it narrows it to under half, on face_training's
forty-odd people, some turned far to one side, to about 60% (still 1.6x the resolution).
"""

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from mediapipe_int8 import rewrite, runner, tflite_file

_OPS = schema.BuiltinOperator
_BIASED = {_OPS.CONV_2D: 2, _OPS.FULLY_CONNECTED: 2, _OPS.DEPTHWISE_CONV_2D: 2}
_NARROWING = 0.75  # a template must narrow the output's range by a quarter or more to be worth an op


def templates(model: schema.ModelT, calibration: list[list[np.ndarray]]) -> dict[int, np.ndarray]:
  """Output position -> template (mean over `calibration`), for the outputs a template narrows
  and that come straight out of an op with a float bias."""
  graph = model.subgraphs[0]
  producers = {int(o): op for op in graph.operators for o in op.outputs}
  run = runner.Model(tflite_file.serialize(model))
  outputs = [run(*sample) for sample in calibration]
  out = {}
  for position, index in enumerate(graph.outputs):
    bias = _bias(model, producers.get(int(index)))
    if bias is None or int(np.prod(graph.tensors[int(index)].shape)) != int(np.prod(bias.shape)):
      continue  # one template value per bias value (one per output channel) only
    values = np.stack([o[position] for o in outputs]).astype(np.float64)
    template = values.mean(axis=0)
    residual = values - template
    if np.ptp(residual) <= _NARROWING * np.ptp(values):
      out[position] = template.astype(np.float32)
  return out


def fold(model: schema.ModelT, found: dict[int, np.ndarray]) -> None:
  """Subtracts each template from the bias of the op that makes its output (in place)."""
  graph = model.subgraphs[0]
  producers = {int(o): op for op in graph.operators for o in op.outputs}
  for position, template in found.items():
    bias = _bias(model, producers[int(graph.outputs[position])])
    folded = tflite_file.constant_values(model, bias, np.float32) - template.ravel()
    model.buffers[bias.buffer].data = np.frombuffer(folded.astype(np.float32).tobytes(), np.uint8).copy()


def add_back(model: schema.ModelT, found: dict[int, np.ndarray]) -> None:
  """After quantization: each templated output becomes (what the model computes) + template, in
  float, with the output tensor (name, type, shape) unchanged."""
  graph = model.subgraphs[0]
  for position, template in sorted(found.items()):
    output = int(graph.outputs[position])
    tensor = graph.tensors[output]
    residual_index = rewrite.activation_tensor(graph, tensor.name.decode() + "/offset",
                                               [int(d) for d in tensor.shape])
    for op in graph.operators:
      op.outputs = [residual_index if int(o) == output else int(o) for o in op.outputs]
    constant = rewrite.constant_tensor(model, graph, tensor.name.decode() + "/template",
                                       template.reshape([int(d) for d in tensor.shape]))
    graph.operators.append(rewrite.add_op(model, residual_index, constant, output))


def _bias(model, op) -> schema.TensorT | None:
  if op is None:
    return None
  position = _BIASED.get(tflite_file.builtin_code(model, op))
  graph = model.subgraphs[0]
  if position is None or len(op.inputs) <= position or op.inputs[position] < 0:
    return None
  if op.builtinOptions is not None and getattr(op.builtinOptions, "fusedActivationFunction", 0):
    return None  # an activation after the bias: a template can't be taken out before it
  bias = graph.tensors[int(op.inputs[position])]
  if bias.type != schema.TensorType.FLOAT32 or not tflite_file.is_constant(model, bias):
    return None
  return bias
