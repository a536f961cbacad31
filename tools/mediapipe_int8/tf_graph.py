"""A prepared TFLite subgraph as a differentiable TensorFlow function, float or as int8 would be.

Reconstruction (reconstruct.py) trains a model's int8 weights and activation ranges against its
float self, so it needs the model's ops in TensorFlow, and int8 exactly as ai-edge-quantizer
writes it (uniform_quantize_tensor.tensor_zp_scale_from_min_max, uniform_quantize):

- activations, per tensor: with min <= 0 <= max, scale = (max - min) / 255 and zero point
  round(-128 - min / scale), values rounded and clipped to [-128, 127];
- CONV_2D and DEPTHWISE_CONV_2D weights, symmetric per output channel: scale = max|w| / 127,
  values rounded half to even and clipped to +-127 (biases stay float: int32 at the input scale
  times the weight scale rounds far below one int8 step);
- ops that take their input's quantization (MAX_POOL_2D, PAD, RESHAPE) round nothing of their
  own; LOGISTIC's int8 output is TFLite's fixed scale 1/256, zero point -128;
- PRELU, which the engine leaves in float, computes in float between its quantized input and
  output.

Rounding passes gradients straight through, to the weights and to the ranges (LSQ-style).
Ops: those of the face landmarks model after rewrite.for_integer_kernels (CONV_2D,
DEPTHWISE_CONV_2D, PRELU, ADD, MAX_POOL_2D, PAD, LOGISTIC, RESHAPE); others raise Unsupported.
Callers make TensorFlow deterministic first (deterministic()): the same inputs give the same
bits, in one process and across processes.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema

from mediapipe_int8 import bias_correction, tflite_file

_OPS = schema.BuiltinOperator
_ACT = schema.ActivationFunctionType
WEIGHT_OPS = bias_correction.CHANNEL_AXIS  # op -> the weights' channel axis
SAME_AS_INPUT = {_OPS.MAX_POOL_2D, _OPS.PAD, _OPS.RESHAPE}
RESIDUAL_OP = _OPS.ADD  # ends a residual block
_LOGISTIC_RANGE = (0.0, 255.0 / 256.0)  # scale 1/256, zero point -128
_MIN_BOUND = 1e-9  # the engine's floor on a range's width and a weight channel's max |w|


def deterministic() -> None:
  """Makes TensorFlow compute the same bits for the same inputs, every run, in any process:

  - one intra-op and one inter-op thread: how a kernel splits a sum across threads decides its
    rounding, and the thread count would follow the machine (the machine is shared, too);
  - op determinism: TensorFlow picks deterministic kernels and refuses ops that have none;
  - no graph rewrites (Grappler): they fuse and reorder a traced function's ops in ways that can
    differ from one trace to the next, and two trainings in one process then trained differently
    (seen once the loss read the residual blocks too);
  - Eigen's kernels, not oneDNN's (the package's __init__ asks for them before TensorFlow loads).

  Raises RuntimeError where TensorFlow was initialised (or loaded with oneDNN) before this could
  take effect: call it before anything else runs TensorFlow.
  """
  threading = tf.config.threading
  if (threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads()) != (1, 1):
    try:
      threading.set_intra_op_parallelism_threads(1)
      threading.set_inter_op_parallelism_threads(1)
    except RuntimeError as e:  # TensorFlow ran before the threads were set
      raise RuntimeError("TensorFlow was initialised before its thread counts could be "
                         "set to 1; call tf_graph.deterministic() first") from e
  if _onednn_enabled():
    raise RuntimeError("TensorFlow was loaded with oneDNN on (TF_ENABLE_ONEDNN_OPTS="
                       f"{os.environ.get('TF_ENABLE_ONEDNN_OPTS')!r}); import mediapipe_int8 before "
                       "TensorFlow or set TF_ENABLE_ONEDNN_OPTS=0")
  tf.config.experimental.enable_op_determinism()
  tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})


def _onednn_enabled() -> bool:
  try:
    from tensorflow.python.util import _pywrap_util_port  # pylint: disable=g-direct-tensorflow-import
  except ImportError:  # another TensorFlow layout: trust the variable set above
    return os.environ.get("TF_ENABLE_ONEDNN_OPTS") != "0"
  return bool(_pywrap_util_port.IsMklEnabled())


class Unsupported(ValueError):
  """The model has an op this module does not implement."""


@dataclasses.dataclass(frozen=True)
class _Op:
  code: int
  inputs: tuple[int, ...]
  output: int
  options: object
  output_shape: tuple[int, ...]


class Graph:
  """The ops of a prepared model's first subgraph, by tensor index.

  `weights`: tensor index -> channel axis of every CONV_2D / DEPTHWISE_CONV_2D weight tensor;
  `biases`: their bias tensors; `ranged`: activation tensors that the int8 model rounds with a
  range of their own (the model's input included), in op order; `names` and `shapes`: every
  tensor's.
  """

  def __init__(self, model: schema.ModelT):
    graph = model.subgraphs[0]
    self.names = [t.name.decode() for t in graph.tensors]
    self.shapes = [tuple(int(d) for d in t.shape) if t.shape is not None else () for t in graph.tensors]
    self.inputs = [int(i) for i in graph.inputs]
    self.outputs = [int(i) for i in graph.outputs]
    self.constants: dict[int, np.ndarray] = {}
    for index, tensor in enumerate(graph.tensors):
      if tflite_file.is_constant(model, tensor):
        dtype = {schema.TensorType.FLOAT32: np.float32, schema.TensorType.INT32: np.int32}.get(tensor.type)
        if dtype is None:
          raise Unsupported(f"constant {self.names[index]} of type {tflite_file.type_name(tensor.type)}")
        shape = [int(d) for d in tensor.shape] if tensor.shape is not None else []
        self.constants[index] = tflite_file.constant_values(model, tensor, dtype).reshape(shape)
    self.ops: list[_Op] = []
    self.weights: dict[int, int] = {}
    self.biases: set[int] = set()
    self.ranged: list[int] = list(self.inputs)
    for op in graph.operators:
      code = tflite_file.builtin_code(model, op)
      if code not in _RUN:
        raise Unsupported(f"op {tflite_file.op_name(code)} (output {self.names[int(op.outputs[0])]})")
      inputs = tuple(int(i) for i in op.inputs)
      output = graph.tensors[int(op.outputs[0])]
      self.ops.append(_Op(code, inputs, int(op.outputs[0]), op.builtinOptions,
                          tuple(int(d) for d in output.shape)))
      if code in WEIGHT_OPS:
        self.weights[inputs[1]] = WEIGHT_OPS[code]
        if len(inputs) > 2 and inputs[2] >= 0:
          self.biases.add(inputs[2])
      if code not in SAME_AS_INPUT and code != _OPS.LOGISTIC:
        self.ranged.append(int(op.outputs[0]))

  def run(self, inputs: list, params: dict | None = None, ranges: dict | None = None,
          int8_weights: bool | None = None) -> list:
    """The outputs for `inputs` (one batch per model input, NHWC).

    `params` overrides constants by tensor index (trained weights and biases); with `ranges`
    (tensor index -> (min, max) for every index of `ranged`) the run is int8 as simulated: every
    ranged tensor and every weight is fake-quantized. `int8_weights` (default: whether `ranges`
    is given) rounds the weights; with it and no ranges the run is weight-only int8 (float
    computation with int8 weights).
    """
    values = self.values(inputs, params, ranges, int8_weights)
    return [values[i] for i in self.outputs]

  def values(self, inputs: list, params: dict | None = None, ranges: dict | None = None,
             int8_weights: bool | None = None) -> dict:
    """Every activation tensor's value for `inputs`, by tensor index (as run())."""
    params = params or {}
    if int8_weights is None:
      int8_weights = ranges is not None
    values = {}
    for index, array in zip(self.inputs, inputs, strict=True):
      values[index] = self._quantized(index, tf.convert_to_tensor(array, tf.float32), ranges)
    def value(index):
      if index in values:
        return values[index]
      if index in params:
        tensor = params[index]
      else:
        tensor = tf.constant(self.constants[index])
      if int8_weights and index in self.weights:
        tensor = fake_quant_weights(tensor, self.weights[index])
      return tensor
    for op in self.ops:
      out = _RUN[op.code](op, [value(i) if i >= 0 else None for i in op.inputs])
      if op.code == _OPS.LOGISTIC and ranges is not None:
        out = fake_quant(out, *_LOGISTIC_RANGE)
      values[op.output] = self._quantized(op.output, out, ranges)
    return values

  def _quantized(self, index, tensor, ranges):
    if ranges is None or index not in ranges:
      return tensor
    return fake_quant(tensor, *ranges[index])


def ranges_from_qsvs(graph: Graph, qsvs: dict) -> dict[int, tuple[float, float]]:
  return {i: (float(np.min(qsvs[graph.names[i]]["min"])), float(np.max(qsvs[graph.names[i]]["max"])))
          for i in graph.ranged}



def round_ste(x):
  """Rounds half to even (as numpy's rint); the gradient passes straight through."""
  return x + tf.stop_gradient(tf.round(x) - x)


def activation_scale_zero_point(low, high):
  """The engine's affine int8 parameters of a range (zero point as a float, rounded)."""
  low, high = tf.minimum(low, 0.0), tf.maximum(high, 0.0)
  scale = tf.maximum(high - low, _MIN_BOUND) / 255.0
  return scale, round_ste(-128.0 - low / scale)


def fake_quant(x, low, high):
  scale, zero_point = activation_scale_zero_point(low, high)
  q = tf.clip_by_value(round_ste(x / scale) + zero_point, -128.0, 127.0)
  return (q - zero_point) * scale


def weight_scale(w, axis: int):
  """Per-channel symmetric scale max|w| / 127 along `axis`, shaped to broadcast against w."""
  others = [a for a in range(len(w.shape)) if a != axis]
  return tf.maximum(tf.reduce_max(tf.abs(w), axis=others, keepdims=True), _MIN_BOUND) / 127.0


def fake_quant_weights(w, axis: int):
  scale = weight_scale(w, axis)
  return tf.clip_by_value(round_ste(w / scale), -127.0, 127.0) * scale


def _activation(x, code):
  if code == _ACT.NONE:
    return x
  if code == _ACT.RELU:
    return tf.nn.relu(x)
  if code == _ACT.RELU6:
    return tf.clip_by_value(x, 0.0, 6.0)
  if code == _ACT.RELU_N1_TO_1:
    return tf.clip_by_value(x, -1.0, 1.0)
  raise Unsupported(f"fused activation {code}")


def _padding(code) -> str:
  return "SAME" if code == schema.Padding.SAME else "VALID"


def _conv(op, args):
  x, w, b = args[0], args[1], args[2] if len(args) > 2 else None
  o = op.options
  y = tf.nn.conv2d(x, tf.transpose(w, [1, 2, 3, 0]), strides=[1, o.strideH, o.strideW, 1],
                   padding=_padding(o.padding), dilations=[1, o.dilationHFactor, o.dilationWFactor, 1])
  return _activation(y if b is None else y + b, o.fusedActivationFunction)


def _depthwise(op, args):
  x, w, b = args[0], args[1], args[2] if len(args) > 2 else None
  o = op.options
  channels = int(x.shape[-1])
  kernel = tf.reshape(w[0], [int(w.shape[1]), int(w.shape[2]), channels, -1])
  y = tf.nn.depthwise_conv2d(x, kernel, strides=[1, o.strideH, o.strideW, 1],
                             padding=_padding(o.padding),
                             dilations=[o.dilationHFactor, o.dilationWFactor])
  return _activation(y if b is None else y + b, o.fusedActivationFunction)


def _prelu(op, args):
  x, alpha = args
  return tf.maximum(x, 0.0) + alpha * tf.minimum(x, 0.0)


def _add(op, args):
  code = op.options.fusedActivationFunction if op.options is not None else _ACT.NONE
  return _activation(args[0] + args[1], code)


def _max_pool(op, args):
  o = op.options
  y = tf.nn.max_pool2d(args[0], ksize=[o.filterHeight, o.filterWidth],
                       strides=[o.strideH, o.strideW], padding=_padding(o.padding))
  return _activation(y, o.fusedActivationFunction)


def _pad(op, args):
  return tf.pad(args[0], tf.cast(args[1], tf.int32))


def _reshape(op, args):
  return tf.reshape(args[0], (-1,) + op.output_shape[1:])  # batch-agnostic


def _logistic(op, args):
  return tf.sigmoid(args[0])


_RUN = {
    _OPS.CONV_2D: _conv,
    _OPS.DEPTHWISE_CONV_2D: _depthwise,
    _OPS.PRELU: _prelu,
    _OPS.ADD: _add,
    _OPS.MAX_POOL_2D: _max_pool,
    _OPS.PAD: _pad,
    _OPS.RESHAPE: _reshape,
    _OPS.LOGISTIC: _logistic,
}
