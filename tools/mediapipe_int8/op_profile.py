"""Per-op profile: which ops XNNPACK takes (the fast path) and what each costs alone.

The Python runtime exposes neither the delegate's partitions nor per-op times, so each op is cut
out of the graph into a one-op model with its own tensors and constants, loaded with XNNPACK as
the app would, and timed. An op that the delegate refuses runs on the built-in kernel.
"""

import collections
import copy
import statistics
import sys
import time

import numpy as np
from ai_edge_litert import interpreter as litert
from ai_edge_litert import schema_py_generated as schema

from mediapipe_int8 import graph_stats, tflite_file


def single_op_model(model: schema.ModelT, op_index: int) -> bytes:
  graph = model.subgraphs[0]
  op = graph.operators[op_index]
  new = schema.ModelT()
  new.version = model.version
  new.buffers = [schema.BufferT()]
  new.operatorCodes = [copy.deepcopy(model.operatorCodes[op.opcodeIndex])]
  subgraph = schema.SubGraphT()
  subgraph.tensors, remap = [], {}
  for index in [int(i) for i in op.inputs if i >= 0] + [int(o) for o in op.outputs]:
    if index in remap:
      continue
    tensor = copy.deepcopy(graph.tensors[index])
    data = model.buffers[tensor.buffer].data
    if data is not None and len(data):
      buffer = schema.BufferT()
      buffer.data = np.asarray(data, np.uint8).copy()
      new.buffers.append(buffer)
      tensor.buffer = len(new.buffers) - 1
    else:
      tensor.buffer = 0
    remap[index] = len(subgraph.tensors)
    subgraph.tensors.append(tensor)
  single = copy.deepcopy(op)
  single.opcodeIndex = 0
  single.inputs = [remap[int(i)] if i >= 0 else -1 for i in op.inputs]
  single.outputs = [remap[int(o)] for o in op.outputs]
  subgraph.operators = [single]
  subgraph.inputs = [remap[int(i)] for i in op.inputs
                     if i >= 0 and new.buffers[subgraph.tensors[remap[int(i)]].buffer].data is None]
  subgraph.outputs = [remap[int(o)] for o in op.outputs]
  new.subgraphs = [subgraph]
  return tflite_file.serialize(new)


def _time_op(data: bytes, runs: int) -> tuple[bool, float]:
  interpreter = litert.Interpreter(model_content=data, num_threads=1)
  interpreter.allocate_tensors()
  delegated = any(d["op_name"] == "DELEGATE" for d in interpreter._get_ops_details())
  rng = np.random.default_rng(0)
  for detail in interpreter.get_input_details():
    dtype = detail["dtype"]
    if np.issubdtype(dtype, np.integer):
      info = np.iinfo(dtype)
      values = rng.integers(max(info.min, -100), min(info.max, 100), detail["shape"]).astype(dtype)
    else:
      values = rng.uniform(0.1, 1.0, detail["shape"]).astype(dtype)
    interpreter.set_tensor(detail["index"], values)
  interpreter.invoke()
  times = []
  for _ in range(runs):
    start = time.perf_counter()
    interpreter.invoke()
    times.append(time.perf_counter() - start)
  return delegated, statistics.median(times) * 1e6


def profile(model_bytes: bytes, runs: int = 20) -> list[dict]:
  """One row per op: index, type, precision, delegated, microseconds alone."""
  model = tflite_file.parse(model_bytes, "model")
  dequantized = graph_stats.dequantized_from(model)
  rows = []
  graph = model.subgraphs[0]
  for index, op in enumerate(graph.operators):
    if all(i < 0 or tflite_file.is_constant(model, graph.tensors[int(i)]) for i in op.inputs):
      continue  # computed once from constants (a float16 weight's DEQUANTIZE), not per inference
    delegated, micros = _time_op(single_op_model(model, index), runs)
    rows.append({"index": index, "op": tflite_file.op_name(tflite_file.builtin_code(model, op)),
                 "precision": graph_stats.op_precision(model, op, dequantized),
                 "delegated": delegated, "us": micros})
  return rows


def summary(rows: list[dict]) -> list[tuple]:
  """(op, precision, fast path?, count, total us), the slowest groups first."""
  groups = collections.defaultdict(lambda: [0, 0.0])
  for row in rows:
    key = (row["op"], row["precision"], row["delegated"])
    groups[key][0] += 1
    groups[key][1] += row["us"]
  return sorted(((k[0], k[1], k[2], n, us) for k, (n, us) in groups.items()), key=lambda r: -r[4])


def main(argv: list[str]) -> int:
  """python -m mediapipe_int8.op_profile MODEL.tflite|BUNDLE.task[:ENTRY]: per op type, fast path or
  not, count and total microseconds (each op alone, one thread, XNNPACK)."""
  if len(argv) != 2:
    print(main.__doc__, file=sys.stderr)
    return 2
  path, _, entry = argv[1].partition(":")
  with open(path, "rb") as f:
    data = f.read()
  if entry:
    from mediapipe_int8 import bundle
    data = {e.name: e.data for e in bundle.read_entries(data, path)}[entry]
  print(f"{'op':<22} {'precision':<20} {'fast path':<9} {'count':>5} {'us total':>9}")
  for op, precision, delegated, count, micros in summary(profile(data)):
    print(f"{op:<22} {precision:<20} {'yes' if delegated else 'NO':<9} {count:>5} {micros:>9.0f}")
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
