"""Graph rewrites that put a float model's ops on integer kernels' fast path, float-exactly.

- A standalone RELU after a conv, depthwise conv, fully-connected or ADD op becomes that op's
  fused activation. Integer kernels (XNNPACK) don't take a standalone int8 RELU, and each one
  splits the delegated graph; fused, the float result is the same bits.
- PRELU, which ai-edge-quantizer can't quantize (it stays float behind QUANTIZE/DEQUANTIZE) and
  integer kernels run off the fast path, is rewritten with per-channel alpha as
  x + (1 - alpha) * relu(-x):  a 1x1 depthwise conv with weights -1 and fused RELU, a 1x1
  depthwise conv with weights 1 - alpha, and an ADD, all on the fast path. In float it matches
  PRELU to rounding (x + (1 - alpha) * -x against alpha * x).
"""

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from mediapipe_int8 import tflite_file

_OPS = schema.BuiltinOperator
_FUSABLE = {
    _OPS.CONV_2D: "Conv2DOptions",
    _OPS.DEPTHWISE_CONV_2D: "DepthwiseConv2DOptions",
    _OPS.FULLY_CONNECTED: "FullyConnectedOptions",
    _OPS.ADD: "AddOptions",
}
_ACTIVATIONS = {_OPS.RELU: schema.ActivationFunctionType.RELU,
                _OPS.RELU6: schema.ActivationFunctionType.RELU6}


PRELU_MODES = ("float", "int8")


def for_integer_kernels(model: schema.ModelT, prelu: str = "float") -> dict[str, int]:
  """Fuses activations and, with prelu="int8", rewrites PRELU; returns how many of each were made.

  prelu="float" leaves PRELU to run in float between QUANTIZE/DEQUANTIZE: measured on an AVX-512
  VNNI x86 CPU, XNNPACK's int8 1x1 depthwise conv is slower than its float PRELU, so the all-int8
  rewrite costs time there (README, "Speed") though it removes every conversion inside the graph.
  """
  fused = fuse_activations(model)
  prelus = rewrite_prelu(model) if prelu == "int8" else 0
  return {"fused_activations": fused, "prelu_rewritten": prelus}


def _consumers(graph) -> dict[int, int]:
  counts = {}
  for op in graph.operators:
    for i in op.inputs:
      counts[int(i)] = counts.get(int(i), 0) + 1
  for i in graph.outputs:
    counts[int(i)] = counts.get(int(i), 0) + 1
  return counts


def fuse_activations(model: schema.ModelT) -> int:
  graph = model.subgraphs[0]
  producers = {int(o): op for op in graph.operators for o in op.outputs}
  consumers = _consumers(graph)
  removed = []
  for op in graph.operators:
    activation = _ACTIVATIONS.get(tflite_file.builtin_code(model, op))
    if activation is None:
      continue
    source = int(op.inputs[0])
    producer = producers.get(source)
    if producer is None or consumers.get(source) != 1:
      continue
    options = producer.builtinOptions
    if tflite_file.builtin_code(model, producer) not in _FUSABLE or options is None:
      continue
    if options.fusedActivationFunction != schema.ActivationFunctionType.NONE:
      continue
    options.fusedActivationFunction = activation
    producer.outputs = [int(op.outputs[0])]
    producers[int(op.outputs[0])] = producer
    removed.append(op)
  graph.operators = [op for op in graph.operators if not any(op is r for r in removed)]
  return len(removed)


def rewrite_prelu(model: schema.ModelT) -> int:
  graph = model.subgraphs[0]
  rewritten, operators = 0, []
  for op in graph.operators:
    alpha = _per_channel_alpha(model, graph, op)
    if alpha is None:
      operators.append(op)
      continue
    x, y = int(op.inputs[0]), int(op.outputs[0])
    shape = [int(d) for d in graph.tensors[x].shape]
    channels = len(alpha)
    prefix = f"prelu_{rewritten}"  # short: tensor names are stored in the model
    negated = activation_tensor(graph, f"{prefix}/relu_neg_x", shape)
    scaled = activation_tensor(graph, f"{prefix}/scaled", shape)
    operators += [
        _depthwise(model, graph, x, negated, -np.ones(channels, np.float32),
                   schema.ActivationFunctionType.RELU, f"{prefix}/neg"),
        _depthwise(model, graph, negated, scaled, 1.0 - alpha, schema.ActivationFunctionType.NONE,
                   f"{prefix}/one_minus_alpha"),
        add_op(model, x, scaled, y),
    ]
    rewritten += 1
  graph.operators = operators
  return rewritten


def _per_channel_alpha(model, graph, op) -> np.ndarray | None:
  """PRELU's alpha as one value per channel, or None when this op is not such a PRELU."""
  if tflite_file.builtin_code(model, op) != _OPS.PRELU:
    return None
  x, alpha = graph.tensors[int(op.inputs[0])], graph.tensors[int(op.inputs[1])]
  values = tflite_file.constant_values(model, alpha, np.float32)
  if x.type != schema.TensorType.FLOAT32 or alpha.type != schema.TensorType.FLOAT32 \
      or values is None or len(x.shape) != 4:
    return None
  shape = [int(d) for d in alpha.shape]
  channels = int(x.shape[3])
  if not shape or any(d != 1 for d in shape[:-1]) or shape[-1] not in (1, channels):
    return None
  return np.broadcast_to(values, (channels,)).astype(np.float32)


def activation_tensor(graph, name: str, shape: list[int]) -> int:
  tensor = schema.TensorT()
  tensor.name = name.encode()
  tensor.shape = shape
  tensor.type = schema.TensorType.FLOAT32
  tensor.buffer = 0
  graph.tensors.append(tensor)
  return len(graph.tensors) - 1


def constant_tensor(model, graph, name: str, values: np.ndarray) -> int:
  buffer = schema.BufferT()
  buffer.data = np.frombuffer(values.astype(np.float32).tobytes(), np.uint8).copy()
  model.buffers.append(buffer)
  tensor = schema.TensorT()
  tensor.name = name.encode()
  tensor.shape = list(values.shape)
  tensor.type = schema.TensorType.FLOAT32
  tensor.buffer = len(model.buffers) - 1
  graph.tensors.append(tensor)
  return len(graph.tensors) - 1


def opcode_index(model, code: int) -> int:
  for index, existing in enumerate(model.operatorCodes):
    if max(existing.builtinCode, existing.deprecatedBuiltinCode) == code:
      return index
  opcode = schema.OperatorCodeT()
  opcode.builtinCode = code
  opcode.deprecatedBuiltinCode = min(code, 127)
  opcode.version = 1
  model.operatorCodes.append(opcode)
  return len(model.operatorCodes) - 1


def _depthwise(model, graph, source: int, target: int, weights: np.ndarray, activation: int,
               name: str) -> schema.OperatorT:
  channels = len(weights)
  options = schema.DepthwiseConv2DOptionsT()
  options.padding = schema.Padding.VALID
  options.strideW = options.strideH = 1
  options.dilationWFactor = options.dilationHFactor = 1
  options.depthMultiplier = 1
  options.fusedActivationFunction = activation
  op = schema.OperatorT()
  op.opcodeIndex = opcode_index(model, _OPS.DEPTHWISE_CONV_2D)
  op.inputs = [source, constant_tensor(model, graph, name + "/weights", weights.reshape(1, 1, 1, channels)),
               constant_tensor(model, graph, name + "/bias", np.zeros(channels, np.float32))]
  op.outputs = [target]
  op.builtinOptionsType = schema.BuiltinOptions.DepthwiseConv2DOptions
  op.builtinOptions = options
  return op


def add_op(model, left: int, right: int, target: int) -> schema.OperatorT:
  options = schema.AddOptionsT()
  options.fusedActivationFunction = schema.ActivationFunctionType.NONE
  op = schema.OperatorT()
  op.opcodeIndex = opcode_index(model, _OPS.ADD)
  op.inputs = [left, right]
  op.outputs = [target]
  op.builtinOptionsType = schema.BuiltinOptions.AddOptions
  op.builtinOptions = options
  return op
