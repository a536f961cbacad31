"""Makes a float model quantizable by ai-edge-quantizer without changing its outputs.

Google's shipped models store weights as FLOAT16 constants behind DEQUANTIZE
ops (some, as in the pose detector, sparse behind a DENSIFY op too), keep
operator codes only in the deprecated field, carry unused tensors and have no
signature. The quantizer then silently does nothing or fails. The rewrites
here fix that; each keeps the model's outputs bit-identical.
"""

import dataclasses

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from mediapipe_int8 import tflite_file
from mediapipe_int8.errors import UserError

SIGNATURE_KEY = "serving_default"


@dataclasses.dataclass
class Preparation:
  model: schema.ModelT
  folded_float16: int  # FLOAT16 constant + DEQUANTIZE pairs turned into float32 constants
  pruned_tensors: int
  added_signature: bool
  densified: int = 0  # sparse constant -> DENSIFY pairs turned into dense constants


def prepare(model: schema.ModelT, source: str = "model") -> Preparation:
  """Rewrites `model` in place; returns it with what was done."""
  normalize_operator_codes(model)
  densified = densify_constants(model, source)
  folded = fold_float16_constants(model)
  pruned = prune(model)
  added = add_signature(model)
  return Preparation(model, folded, pruned, added, densified)


def normalize_operator_codes(model: schema.ModelT) -> None:
  """Sets builtin_code wherever old schemas kept the code only in deprecated_builtin_code."""
  for code in model.operatorCodes or []:
    code.builtinCode = max(code.builtinCode, code.deprecatedBuiltinCode)


def densify_constants(model: schema.ModelT, source: str = "model") -> int:
  """Replaces each sparse constant -> DENSIFY pair by one dense constant of the same type."""
  def dense(subgraph, op) -> bytes | None:
    sparse = subgraph.tensors[op.inputs[0]] if op.inputs is not None and len(op.inputs) else None
    if (tflite_file.builtin_code(model, op) != schema.BuiltinOperator.DENSIFY or sparse is None
        or sparse.sparsity is None or model.buffers[sparse.buffer].data is None):
      return None
    return _dense_bytes(sparse, bytes(model.buffers[sparse.buffer].data),
                        f"{source}: tensor {op.inputs[0]}")
  return _replace_by_constants(model, dense)


def _dense_bytes(tensor: schema.TensorT, data: bytes, where: str) -> bytes:
  """TFLite's sparse storage (each dimension DENSE or SPARSE_CSR, in the tensor's own order; no
  blocks) -> the dense tensor's bytes. Each dimension maps a position in the previous one to
  positions in its own; after the last, a position indexes the stored values."""
  sparsity = tensor.sparsity
  shape = [int(d) for d in tensor.shape]
  order = [int(d) for d in sparsity.traversalOrder] if sparsity.traversalOrder is not None else []
  if order != list(range(len(shape))) or sparsity.blockMap is not None:
    raise UserError(f"{where}: sparse with traversal order {order} or blocks; only plain "
                    "(unblocked, in-order) sparse constants can be densified")
  item = {schema.TensorType.FLOAT16: np.float16, schema.TensorType.FLOAT32: np.float32,
          schema.TensorType.INT8: np.int8}.get(tensor.type)
  if item is None:
    raise UserError(f"{where}: sparse {tflite_file.type_name(tensor.type)} constants are not supported")
  values = np.frombuffer(data, item)
  indices = np.zeros((1, 0), np.int64)  # one row per reached element: its index so far
  positions = np.zeros(1, np.int64)
  for axis, dim in enumerate(sparsity.dimMetadata):
    if dim.format == schema.DimensionType.DENSE:
      size = int(dim.denseSize)
      children = np.arange(size)
      indices = np.concatenate([np.repeat(indices, size, 0), np.tile(children, len(positions))[:, None]], 1)
      positions = (positions[:, None] * size + children[None, :]).ravel()
    else:
      segments = np.asarray(_vector_values(dim.arraySegments), np.int64)
      columns = np.asarray(_vector_values(dim.arrayIndices), np.int64)
      counts = segments[positions + 1] - segments[positions]
      starts = np.repeat(segments[positions], counts)
      offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
      positions = starts + offsets
      indices = np.concatenate([np.repeat(indices, counts, 0), columns[positions][:, None]], 1)
    if len(positions) and (indices[:, axis].max() >= shape[axis]):
      raise UserError(f"{where}: sparse index beyond dimension {axis} of shape {shape}")
  if len(positions) != len(values):
    raise UserError(f"{where}: sparse metadata reaches {len(positions)} values, buffer holds {len(values)}")
  dense = np.zeros(shape, item)
  dense[tuple(indices.T)] = values[positions]
  return dense.tobytes()


def _vector_values(vector) -> list[int]:
  """The values of a sparse index vector (Int32VectorT, Uint16VectorT or Uint8VectorT)."""
  return [] if vector is None or vector.values is None else [int(v) for v in vector.values]


def fold_float16_constants(model: schema.ModelT) -> int:
  """Replaces each FLOAT16 constant -> DEQUANTIZE pair by one FLOAT32 constant."""
  def float32(subgraph, op) -> bytes | None:
    if not _is_float16_constant_dequantize(model, subgraph, op):
      return None
    values = np.frombuffer(bytes(model.buffers[subgraph.tensors[op.inputs[0]].buffer].data), np.float16)
    return values.astype(np.float32).tobytes()
  return _replace_by_constants(model, float32)


def _replace_by_constants(model: schema.ModelT, constant_output) -> int:
  """Drops every op for which `constant_output(subgraph, op)` gives its output's bytes (None for
  the others), and makes that output a constant with those bytes; returns how many."""
  replaced = 0
  for subgraph in model.subgraphs:
    kept = []
    for op in subgraph.operators or []:
      data = constant_output(subgraph, op)
      if data is None:
        kept.append(op)
        continue
      model.buffers.append(_buffer(data))
      subgraph.tensors[op.outputs[0]].buffer = len(model.buffers) - 1
      replaced += 1
    subgraph.operators = kept
  return replaced


def _is_float16_constant_dequantize(model, subgraph, op) -> bool:
  if tflite_file.builtin_code(model, op) != schema.BuiltinOperator.DEQUANTIZE:
    return False
  source = subgraph.tensors[op.inputs[0]]
  target = subgraph.tensors[op.outputs[0]]
  data = model.buffers[source.buffer].data
  return (source.type == schema.TensorType.FLOAT16 and target.type == schema.TensorType.FLOAT32
          and data is not None and len(data) > 0)


def _buffer(data: bytes) -> schema.BufferT:
  buffer = schema.BufferT()
  buffer.data = np.frombuffer(data, np.uint8).copy()
  return buffer


def prune(model: schema.ModelT) -> int:
  """Drops tensors, buffers and operator codes that nothing uses; returns tensors dropped."""
  dropped = sum(_prune_tensors(model, i) for i in range(len(model.subgraphs)))
  _prune_buffers(model)
  _prune_operator_codes(model)
  return dropped


def _prune_tensors(model: schema.ModelT, subgraph_index: int) -> int:
  subgraph = model.subgraphs[subgraph_index]
  signatures = [s for s in model.signatureDefs or [] if s.subgraphIndex == subgraph_index]
  used = set(_ints(subgraph.inputs)) | set(_ints(subgraph.outputs))
  for op in subgraph.operators or []:
    used |= set(_ints(op.inputs)) | set(_ints(op.outputs)) | set(_ints(op.intermediates))
  for signature in signatures:
    used |= {t.tensorIndex for t in (signature.inputs or []) + (signature.outputs or [])}
  used.discard(-1)
  order = sorted(used)
  remap = {old: new for new, old in enumerate(order)}
  remap[-1] = -1
  dropped = len(subgraph.tensors) - len(order)
  subgraph.tensors = [subgraph.tensors[i] for i in order]
  subgraph.inputs = [remap[i] for i in _ints(subgraph.inputs)]
  subgraph.outputs = [remap[i] for i in _ints(subgraph.outputs)]
  for op in subgraph.operators or []:
    op.inputs = [remap[i] for i in _ints(op.inputs)]
    op.outputs = [remap[i] for i in _ints(op.outputs)]
    if op.intermediates is not None:
      op.intermediates = [remap[i] for i in _ints(op.intermediates)]
  for signature in signatures:
    for t in (signature.inputs or []) + (signature.outputs or []):
      t.tensorIndex = remap[t.tensorIndex]
  return dropped


def _prune_buffers(model: schema.ModelT) -> None:
  used = {0}  # buffer 0 is the schema's empty sentinel
  for subgraph in model.subgraphs:
    used |= {t.buffer for t in subgraph.tensors or []}
  used |= {m.buffer for m in model.metadata or []}
  used |= set(_ints(model.metadataBuffer))
  order = sorted(used)
  remap = {old: new for new, old in enumerate(order)}
  model.buffers = [model.buffers[i] for i in order]
  for subgraph in model.subgraphs:
    for tensor in subgraph.tensors or []:
      tensor.buffer = remap[tensor.buffer]
  for meta in model.metadata or []:
    meta.buffer = remap[meta.buffer]
  if model.metadataBuffer is not None:
    model.metadataBuffer = [remap[i] for i in _ints(model.metadataBuffer)]


def _prune_operator_codes(model: schema.ModelT) -> None:
  used = sorted({op.opcodeIndex for sg in model.subgraphs for op in sg.operators or []})
  remap = {old: new for new, old in enumerate(used)}
  model.operatorCodes = [model.operatorCodes[i] for i in used]
  for subgraph in model.subgraphs:
    for op in subgraph.operators or []:
      op.opcodeIndex = remap[op.opcodeIndex]


def add_signature(model: schema.ModelT) -> bool:
  """Gives a model without signatures a `serving_default` over subgraph 0's inputs and outputs."""
  if model.signatureDefs:
    return False
  subgraph = model.subgraphs[0]
  signature = schema.SignatureDefT()
  signature.signatureKey = SIGNATURE_KEY.encode()
  signature.subgraphIndex = 0
  signature.inputs = [_tensor_map(subgraph, i) for i in _ints(subgraph.inputs)]
  signature.outputs = [_tensor_map(subgraph, i) for i in _ints(subgraph.outputs)]
  model.signatureDefs = [signature]
  return True


def _tensor_map(subgraph, index: int) -> schema.TensorMapT:
  tensor_map = schema.TensorMapT()
  tensor_map.name = subgraph.tensors[index].name
  tensor_map.tensorIndex = index
  return tensor_map


def _ints(values) -> list[int]:
  return [] if values is None else [int(v) for v in values]
