"""Structure-aware damage to .tflite models: flatbuffer fields changed, not just bytes.

Each mutation takes a parsed model (buffers inline) and a random generator, changes one field
the TFLite schema gives meaning to (an index, a shape, a buffer's size or offset, a type, an
opcode, metadata, a name, the subgraph count) and returns what it did, for the failure message.
`tests/test_bad_models.py` uses them one by one with the message a user sees; the fuzzer
(`tests/test_fuzz_models.py`) draws them at random.
"""

import copy

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from mediapipe_int8 import tflite_file


def _graph(model):
  return model.subgraphs[0]


def constant_tensors(model) -> list[int]:
  return [i for i, t in enumerate(_graph(model).tensors) if tflite_file.is_constant(model, t)]


def _pick(rng, values):
  return values[int(rng.integers(len(values)))]


def _bytes(data: bytes):
  return np.frombuffer(data, np.uint8).copy()


def op_index(model, rng):
  op = _pick(rng, _graph(model).operators)
  field = _pick(rng, ["inputs", "outputs"])
  values = list(getattr(op, field))
  count = len(_graph(model).tensors)
  position = int(rng.integers(len(values)))
  values[position] = int(_pick(rng, [-2, -1, -(2**31), count, count + 7, int(rng.integers(count))]))
  setattr(op, field, values)
  return f"op {field}[{position}] = {values[position]}"


def op_empty(model, rng):
  op = _pick(rng, _graph(model).operators)
  field = _pick(rng, ["inputs", "outputs"])
  setattr(op, field, [])
  return f"op {field} emptied"


def op_self_cycle(model, rng):
  op = _pick(rng, _graph(model).operators)
  op.inputs = list(op.inputs) + [int(op.outputs[0])]
  return "op reads its own output"


def op_order(model, rng):
  operators = _graph(model).operators
  i, j = rng.integers(len(operators), size=2)
  operators[i], operators[j] = operators[j], operators[i]
  return f"ops {i} and {j} swapped"


def op_options(model, rng):
  op = _pick(rng, _graph(model).operators)
  op.builtinOptionsType = int(rng.integers(1, 130))
  op.builtinOptions = None
  return f"op options type {op.builtinOptionsType} without options"


def opcode(model, rng):
  code = _pick(rng, model.operatorCodes)
  choice = int(rng.integers(4))
  if choice == 0:
    code.builtinCode = code.deprecatedBuiltinCode = 0
    code.builtinCode = int(rng.integers(210, 1000))
    return f"builtin code {code.builtinCode}"
  if choice == 1:
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode = _pick(rng, [b"NoSuchOp", b"", b"\xff\xfe"])
    return f"custom op {code.customCode!r}"
  if choice == 2:
    code.builtinCode = code.deprecatedBuiltinCode = int(rng.integers(0, 127))
    return f"builtin code {code.builtinCode} (another op)"
  op = _pick(rng, _graph(model).operators)
  op.opcodeIndex = _pick(rng, [len(model.operatorCodes), 2**31 - 1])
  return f"opcode index {op.opcodeIndex}"


def subgraph_io(model, rng):
  graph = _graph(model)
  field = _pick(rng, ["inputs", "outputs"])
  count = len(graph.tensors)
  value = _pick(rng, [[], [-1], [-5], [count], [count + 100], [int(rng.integers(count))]])
  setattr(graph, field, value)
  return f"subgraph {field} = {value}"


def shape(model, rng):
  tensor = _pick(rng, _graph(model).tensors)
  dims = [int(d) for d in tensor.shape]
  if not dims:
    tensor.shape = [int(_pick(rng, [0, 2, -1]))]
    return f"scalar given shape {tensor.shape}"
  position = int(rng.integers(len(dims)))
  dims[position] = int(_pick(rng, [0, -1, -3, 2**31 - 1, dims[position] + 1, max(1, dims[position] - 1)]))
  tensor.shape = dims
  return f"tensor {tensor.name!r} shape {dims}"


def tensor_type(model, rng):
  tensor = _pick(rng, _graph(model).tensors)
  tensor.type = int(rng.integers(0, 30))
  return f"tensor {tensor.name!r} type {tensor.type}"


def tensor_buffer(model, rng):
  tensor = _pick(rng, _graph(model).tensors)
  tensor.buffer = int(_pick(rng, [-1, len(model.buffers), int(rng.integers(len(model.buffers)))]))
  return f"tensor {tensor.name!r} buffer {tensor.buffer}"


def buffer_size(model, rng):
  index = _pick(rng, constant_tensors(model))
  buffer = model.buffers[_graph(model).tensors[index].buffer]
  data = bytes(np.asarray(buffer.data, np.uint8))
  cut = int(rng.integers(1, 5))
  buffer.data = _bytes(_pick(rng, [data[:-cut], data + b"\0" * cut]))
  return f"buffer of tensor {index}: {len(data)} -> {len(buffer.data)} bytes"


def buffer_offset(model, rng):
  index = _pick(rng, constant_tensors(model))
  buffer = model.buffers[_graph(model).tensors[index].buffer]
  size = len(buffer.data)
  buffer.data = None
  buffer.offset = int(_pick(rng, [1, 2**40, 8]))
  buffer.size = size
  return f"buffer of tensor {index}: offset {buffer.offset}, size {size}"


def no_buffers(model, rng):
  model.buffers = []
  return "no buffers"


def quantization(model, rng):
  tensor = _pick(rng, _graph(model).tensors)
  q = schema.QuantizationParametersT()
  n = int(rng.integers(1, 4))
  q.scale = [float(_pick(rng, [0.1, 0.0, -1.0, float("nan")]))] * n
  q.zeroPoint = [0] * int(_pick(rng, [n, n + 1, 0]))
  q.quantizedDimension = int(rng.integers(0, 5))
  tensor.quantization = q
  return f"tensor {tensor.name!r}: {len(q.scale)} scales, {len(q.zeroPoint)} zero points"


def tensor_name(model, rng):
  tensor = _pick(rng, _graph(model).tensors)
  tensor.name = _pick(rng, [b"\xff\xfe\x80", b"", b"x" * 300])
  return f"tensor name {tensor.name[:8]!r}"


def metadata(model, rng):
  if not model.metadata:
    entry = schema.MetadataT()
    entry.name = b"TFLITE_METADATA"
    model.buffers.append(schema.BufferT())
    entry.buffer = len(model.buffers) - 1
    model.metadata = [entry]
  entry = _pick(rng, model.metadata)
  choice = int(rng.integers(3))
  if choice == 0:
    entry.name = _pick(rng, [b"\xc3\x28", b"TFLITE_METADATA"])
    return f"metadata name {entry.name!r}"
  if choice == 1:
    entry.buffer = _pick(rng, [len(model.buffers), -1])
    return f"metadata buffer {entry.buffer}"
  entry.name = b"TFLITE_METADATA"
  model.buffers[entry.buffer].data = _bytes(_pick(rng, [b"abc", bytes(rng.integers(0, 256, 64, np.uint8)),
                                                        b"\x08\0\0\0M001" + b"\xff" * 20]))
  return "TFLITE_METADATA garbage"


def signature(model, rng):
  if not model.signatureDefs:
    return "no signature to damage"
  sig = model.signatureDefs[0]
  if rng.integers(2) and (sig.inputs or sig.outputs):
    tensor_map = _pick(rng, (sig.inputs or []) + (sig.outputs or []))
    tensor_map.tensorIndex = int(_pick(rng, [len(_graph(model).tensors), -1, 10**6]))
    return f"signature tensor index {tensor_map.tensorIndex}"
  sig.signatureKey = b"\xff\xff"
  return "signature key not UTF-8"


def subgraph_count(model, rng):
  if rng.integers(2):
    model.subgraphs = model.subgraphs + [copy.deepcopy(model.subgraphs[0])]
    return "second subgraph"
  model.subgraphs = []
  return "no subgraph"


MUTATIONS = [op_index, op_empty, op_self_cycle, op_order, op_options, opcode, subgraph_io, shape,
             tensor_type, tensor_buffer, buffer_size, buffer_offset, no_buffers, quantization,
             tensor_name, metadata, signature, subgraph_count]


def mutated(model_bytes: bytes, mutation, rng) -> tuple[bytes | None, str]:
  """`model_bytes` after `mutation`, serialized; None when the mutation can't apply (a model an
  earlier mutation broke) or the flatbuffer can't hold the value (e.g. -1 in an unsigned field)."""
  try:
    model = tflite_file.parse(model_bytes, "seed")
    what = mutation(model, rng)
    return tflite_file.serialize(model), what
  except Exception as e:
    return None, f"{mutation.__name__} did not apply ({type(e).__name__})"
