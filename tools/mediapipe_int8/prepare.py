"""Makes a float model quantizable by ai-edge-quantizer without changing its outputs.

Google's shipped models store weights as FLOAT16 constants behind DEQUANTIZE
ops, keep operator codes only in the deprecated field, carry unused tensors
and have no signature. The quantizer then silently does nothing or fails. The
four rewrites here fix that; each keeps the model's outputs bit-identical.
"""

import dataclasses

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from mediapipe_int8 import tflite_file

SIGNATURE_KEY = "serving_default"


@dataclasses.dataclass
class Preparation:
  model: schema.ModelT
  folded_float16: int  # FLOAT16 constant + DEQUANTIZE pairs turned into float32 constants
  pruned_tensors: int
  added_signature: bool


def prepare(model: schema.ModelT) -> Preparation:
  """Rewrites `model` in place; returns it with what was done."""
  normalize_operator_codes(model)
  folded = fold_float16_constants(model)
  pruned = prune(model)
  added = add_signature(model)
  return Preparation(model, folded, pruned, added)


def normalize_operator_codes(model: schema.ModelT) -> None:
  """Sets builtin_code wherever old schemas kept the code only in deprecated_builtin_code."""
  for code in model.operatorCodes or []:
    code.builtinCode = max(code.builtinCode, code.deprecatedBuiltinCode)


def fold_float16_constants(model: schema.ModelT) -> int:
  """Replaces each FLOAT16 constant -> DEQUANTIZE pair by one FLOAT32 constant."""
  folded = 0
  for subgraph in model.subgraphs:
    kept = []
    for op in subgraph.operators or []:
      if _is_float16_constant_dequantize(model, subgraph, op):
        source = subgraph.tensors[op.inputs[0]]
        target = subgraph.tensors[op.outputs[0]]
        values = np.frombuffer(bytes(model.buffers[source.buffer].data), np.float16)
        model.buffers.append(_buffer(values.astype(np.float32).tobytes()))
        target.buffer = len(model.buffers) - 1
        folded += 1
      else:
        kept.append(op)
    subgraph.operators = kept
  return folded


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
