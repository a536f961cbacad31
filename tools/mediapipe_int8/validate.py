"""Checks a .tflite model against the TFLite schema before any engine sees it.

Every index, shape, buffer size and offset, type and name is checked, so that a
malformed model is refused with a message naming the tensor or op, instead of a
traceback from the quantizer or a crash in native code. What the schema can't
say (an unknown op's kernel, wrong options) is left to loading the model in the
runtime itself (`load_check`).
"""

import math

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from mediapipe_int8 import tflite_file
from mediapipe_int8.errors import UserError

# Bytes per element of the types with a fixed element size; others (STRING, INT4, ...) are not sized.
_ITEM_BYTES = {
    schema.TensorType.FLOAT32: 4, schema.TensorType.FLOAT16: 2, schema.TensorType.INT32: 4,
    schema.TensorType.UINT8: 1, schema.TensorType.INT64: 8, schema.TensorType.BOOL: 1,
    schema.TensorType.INT16: 2, schema.TensorType.COMPLEX64: 8, schema.TensorType.INT8: 1,
    schema.TensorType.FLOAT64: 8, schema.TensorType.COMPLEX128: 16, schema.TensorType.UINT64: 8,
    schema.TensorType.UINT32: 4, schema.TensorType.UINT16: 2, schema.TensorType.BFLOAT16: 2,
}
_KNOWN_OPS = {v for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
_MAX_DIM = 2**31 - 1
_MAX_TENSOR_BYTES = 2**31  # TFLite's flatbuffers can't hold more
_METADATA_IDENTIFIER = b"M001"


def model(data: bytes, source: str) -> schema.ModelT:
  """The model in `data`, with every buffer inline; UserError naming what is wrong if malformed."""
  parsed = tflite_file.read(data, source)
  _check_buffer_locations(parsed, len(data), source)
  tflite_file.inline_external_buffers(parsed, data)
  _check_structure(parsed, source)
  return parsed


def _check_buffer_locations(parsed: schema.ModelT, file_size: int, source: str) -> None:
  if not parsed.buffers:
    raise UserError(f"{source}: TFLite model has no buffers (buffer 0, the empty one, is required)")
  for index, buffer in enumerate(parsed.buffers):
    inline = buffer.data is not None and len(buffer.data) > 0
    if buffer.offset == 1 and buffer.size > 0:
      raise UserError(f"{source}: buffer {index} has offset 1, which TFLite reads as no data "
                      f"({buffer.size} bytes would be lost)")
    if buffer.offset > 1:
      if inline:
        raise UserError(f"{source}: buffer {index} has both inline data and an offset")
      if buffer.offset + buffer.size > file_size:
        raise UserError(f"{source}: buffer {index} points past the end of the file (truncated?)")


def _check_structure(parsed: schema.ModelT, source: str) -> None:
  if len(parsed.subgraphs) != 1:
    raise UserError(f"{source}: TFLite model has {len(parsed.subgraphs)} subgraphs; only models "
                    "with one subgraph are supported")
  _check_operator_codes(parsed, source)
  subgraph = parsed.subgraphs[0]
  _text(subgraph.name, f"{source}: subgraph name")
  for index, tensor in enumerate(subgraph.tensors or []):
    _check_tensor(parsed, index, tensor, source)
  _check_graph(parsed, subgraph, source)
  _check_signatures(parsed, source)
  _check_metadata(parsed, source)


def _check_operator_codes(parsed: schema.ModelT, source: str) -> None:
  for index, code in enumerate(parsed.operatorCodes or []):
    value = max(code.builtinCode, code.deprecatedBuiltinCode)
    if value not in _KNOWN_OPS:
      raise UserError(f"{source}: operator code {index} is {value}, not a TFLite builtin operator")
    if value == schema.BuiltinOperator.CUSTOM and not _text(code.customCode,
                                                            f"{source}: operator code {index}"):
      raise UserError(f"{source}: operator code {index} is a custom op without a name")


def _check_tensor(parsed: schema.ModelT, index: int, tensor: schema.TensorT, source: str) -> None:
  name = _text(tensor.name, f"{source}: tensor {index}'s name")
  where = f"{source}: tensor {index} ({name!r})"
  if tensor.type not in tflite_file.TYPE_NAMES:
    raise UserError(f"{where} has unknown type {tensor.type}")
  shape = _ints(tensor.shape)
  if any(not 1 <= d <= _MAX_DIM for d in shape):
    raise UserError(f"{where} has shape {shape}: every dimension must be between 1 and {_MAX_DIM}")
  elements = math.prod(shape)
  item = _ITEM_BYTES.get(tensor.type)
  if item is not None and elements * item > _MAX_TENSOR_BYTES:
    raise UserError(f"{where} has shape {shape}: {elements * item} bytes, more than TFLite holds")
  if not 0 <= tensor.buffer < len(parsed.buffers):
    raise UserError(f"{where} refers to buffer {tensor.buffer}, which does not exist")
  data = parsed.buffers[tensor.buffer].data
  size = 0 if data is None else len(data)
  if size and item is not None and size != elements * item and tensor.sparsity is None:
    raise UserError(f"{where}: its buffer holds {size} bytes, but shape {shape} of "
                    f"{tflite_file.type_name(tensor.type)} needs {elements * item}")
  _check_quantization(tensor.quantization, shape, where)


def _check_quantization(q: schema.QuantizationParametersT | None, shape: list[int], where: str) -> None:
  if q is None:
    return
  scales, zero_points = _floats(q.scale), _ints(q.zeroPoint)
  if scales and zero_points and len(scales) != len(zero_points):
    raise UserError(f"{where} has {len(scales)} quantization scales but {len(zero_points)} zero points")
  if scales and not all(math.isfinite(s) and s > 0 for s in scales):
    raise UserError(f"{where} has a quantization scale that is not a positive finite number")
  if len(scales) > 1:
    axis = int(q.quantizedDimension)
    if not 0 <= axis < len(shape) or shape[axis] != len(scales):
      raise UserError(f"{where} has {len(scales)} per-channel scales, which do not match dimension "
                      f"{axis} of shape {shape}")


def _check_graph(parsed: schema.ModelT, subgraph: schema.SubGraphT, source: str) -> None:
  tensors = subgraph.tensors or []
  count = len(tensors)
  def name(i):
    return tensors[i].name.decode()
  for role, indices in (("inputs", _ints(subgraph.inputs)), ("outputs", _ints(subgraph.outputs))):
    if not indices:
      raise UserError(f"{source}: the subgraph has no {role}")
    for i in indices:
      if not 0 <= i < count:
        raise UserError(f"{source}: subgraph {role} name tensor {i}, which does not exist "
                        f"({count} tensors)")
  ready = set(_ints(subgraph.inputs))
  ready |= {i for i, t in enumerate(tensors) if tflite_file.is_constant(parsed, t) or t.isVariable}
  written = set()
  for position, op in enumerate(subgraph.operators or []):
    if not 0 <= op.opcodeIndex < len(parsed.operatorCodes or []):
      raise UserError(f"{source}: operator {position} refers to operator code {op.opcodeIndex}, "
                      "which does not exist")
    where = f"{source}: operator {position} ({tflite_file.op_name(tflite_file.builtin_code(parsed, op))})"
    inputs, outputs = _ints(op.inputs), _ints(op.outputs)
    if not [i for i in inputs if i != -1]:
      raise UserError(f"{where} has no inputs")
    if not outputs:
      raise UserError(f"{where} has no outputs")
    for i in inputs + _ints(op.intermediates):
      if i != -1 and not 0 <= i < count:
        raise UserError(f"{where} reads tensor {i}, which does not exist ({count} tensors)")
    for i in outputs:
      if not 0 <= i < count:
        raise UserError(f"{where} writes tensor {i}, which does not exist ({count} tensors)")
    for i in inputs:
      if i != -1 and i not in ready:
        raise UserError(f"{where} reads tensor {i} ({name(i)!r}) before any operator writes it "
                        "(a cycle, or operators out of order)")
    for i in outputs:
      if i in written or i in ready:
        raise UserError(f"{where} writes tensor {i} ({name(i)!r}), which is already an input, a "
                        "constant or another operator's output")
      written.add(i)
    ready |= set(outputs)
    _check_same_shape(parsed, op, tensors, where)
  for i in _ints(subgraph.outputs):
    if i not in ready:
      raise UserError(f"{source}: subgraph output tensor {i} ({name(i)!r}) is never written")


def _check_same_shape(parsed, op, tensors, where: str) -> None:
  """A DEQUANTIZE keeps its input's shape; `prepare` folds a constant one into its output tensor."""
  if tflite_file.builtin_code(parsed, op) != schema.BuiltinOperator.DEQUANTIZE:
    return
  inputs, outputs = _ints(op.inputs), _ints(op.outputs)
  if len(inputs) != 1 or len(outputs) != 1:
    raise UserError(f"{where} has {len(inputs)} inputs and {len(outputs)} outputs; it takes one of each")
  source, target = _ints(tensors[inputs[0]].shape), _ints(tensors[outputs[0]].shape)
  if source != target:
    raise UserError(f"{where} turns tensor {inputs[0]} of shape {source} into tensor {outputs[0]} "
                    f"of shape {target}; it keeps the shape")


def _check_signatures(parsed: schema.ModelT, source: str) -> None:
  count = len(parsed.subgraphs[0].tensors or [])
  for signature in parsed.signatureDefs or []:
    key = _text(signature.signatureKey, f"{source}: a signature key")
    if signature.subgraphIndex != 0:
      raise UserError(f"{source}: signature {key!r} names subgraph {signature.subgraphIndex}, "
                      "which does not exist")
    for tensor_map in (signature.inputs or []) + (signature.outputs or []):
      label = _text(tensor_map.name, f"{source}: a tensor name of signature {key!r}")
      if not 0 <= tensor_map.tensorIndex < count:
        raise UserError(f"{source}: signature {key!r} maps {label!r} to tensor "
                        f"{tensor_map.tensorIndex}, which does not exist ({count} tensors)")


def _check_metadata(parsed: schema.ModelT, source: str) -> None:
  for i in _ints(parsed.metadataBuffer):
    if not 0 <= i < len(parsed.buffers):
      raise UserError(f"{source}: metadata_buffer refers to buffer {i}, which does not exist")
  for meta in parsed.metadata or []:
    name = _text(meta.name, f"{source}: a metadata name")
    if not 0 <= meta.buffer < len(parsed.buffers):
      raise UserError(f"{source}: metadata {name!r} refers to buffer {meta.buffer}, which does not exist")
    if name == "TFLITE_METADATA":
      data = parsed.buffers[meta.buffer].data
      blob = b"" if data is None else np.asarray(data, np.uint8).tobytes()
      if len(blob) < 8 or blob[4:8] != _METADATA_IDENTIFIER \
          or not 8 <= int.from_bytes(blob[:4], "little") < len(blob):
        raise UserError(f"{source}: metadata TFLITE_METADATA is not a TFLite metadata flatbuffer "
                        f"({len(blob)} bytes, no {_METADATA_IDENTIFIER.decode()} identifier)")


def _text(value, what: str) -> str:
  if value is None:
    return ""
  try:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
  except UnicodeDecodeError:
    raise UserError(f"{what} is not valid UTF-8") from None


def _ints(values) -> list[int]:
  return [] if values is None else [int(v) for v in values]


def _floats(values) -> list[float]:
  return [] if values is None else [float(v) for v in values]
