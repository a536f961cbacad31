"""Activation ranges from calibration samples: our own calibrator, order-independent by design.

ai-edge-quantizer's calibrator keeps a moving average of per-sample min/max, so its ranges depend
on sample order and rare outliers pull them anywhere. Here every activation tensor of the float
model is observed on every sample (one thread, no delegate, so values repeat exactly), and its
range is then estimated with a chosen method:

- `minmax`: the smallest and largest value seen.
- `percentile`: the pooled P-th and (100-P)-th percentiles over all samples, read from per-sample
  quantile sketches (every sample of a tensor has the same size, so the pooled distribution is
  the equal-weight mixture of the samples'). Outlier-robust.

Ranges always include 0, as the quantizer's affine int8 scheme needs, and come out as the QSV
dicts ai-edge-quantizer takes: {tensor name: {"min": array, "max": array}} with keepdims shapes.
"""

import dataclasses

import numpy as np
from ai_edge_litert import interpreter as litert
from ai_edge_litert import schema_py_generated as schema

from mediapipe_int8 import tflite_file
from mediapipe_int8.runner import THREADS

METHODS = ("minmax", "percentile")
DEFAULT_PERCENTILE = 99.99
# Quantile grid of the per-sample sketches: dense in both tails, where percentiles are read.
_TAIL = np.concatenate([np.linspace(0.0, 0.001, 101), np.linspace(0.001, 0.01, 91)[1:]])
_GRID = np.unique(np.concatenate([_TAIL, np.linspace(0.01, 0.99, 197), 1.0 - _TAIL]))


@dataclasses.dataclass
class TensorObservations:
  rank: int
  sketches: list[np.ndarray]  # per sample, the tensor's order statistics nearest to _GRID


def each_run(float_model: bytes, samples: list[list[np.ndarray]]):
  """Runs the float model on each sample in turn (one thread, no delegate, every tensor kept) and
  yields the interpreter after each run, to read any tensor of it."""
  interpreter = litert.Interpreter(
      model_content=bytes(float_model), num_threads=THREADS,
      experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
      experimental_preserve_all_tensors=True)
  interpreter.allocate_tensors()
  inputs = interpreter.get_input_details()
  for sample in samples:
    for detail, array in zip(inputs, sample, strict=True):
      interpreter.set_tensor(detail["index"], array)
    interpreter.invoke()
    yield interpreter


def observe(float_model: bytes, model: schema.ModelT, samples: list[list[np.ndarray]]):
  """Runs the float model on every sample and sketches every float activation tensor."""
  graph = model.subgraphs[0]
  activations = {}
  for index, tensor in enumerate(graph.tensors):
    if tensor.type == schema.TensorType.FLOAT32 and not tflite_file.is_constant(model, tensor):
      activations[index] = tensor.name.decode()
  observations = {name: TensorObservations(len(graph.tensors[i].shape), []) for i, name in activations.items()}
  for interpreter in each_run(float_model, samples):
    for index, name in activations.items():
      values = np.sort(interpreter.get_tensor(index), axis=None)
      observations[name].sketches.append(values[np.round(_GRID * (values.size - 1)).astype(np.int64)])
  return observations


def estimate(observations: dict[str, TensorObservations], method: str,
             percentile: float = DEFAULT_PERCENTILE, clamps: dict[str, tuple[float, float]] | None = None):
  """QSVs for every observed tensor; `clamps` bounds named tensors' ranges (pipeline knowledge)."""
  qsvs = {}
  for name, obs in sorted(observations.items()):
    sketches = np.stack(obs.sketches)
    if method == "minmax":
      low, high = float(sketches[:, 0].min()), float(sketches[:, -1].max())
    elif method == "percentile":
      low = _pooled_quantile(sketches, 1.0 - percentile / 100.0)
      high = _pooled_quantile(sketches, percentile / 100.0)
    else:
      raise ValueError(method)
    if clamps and name in clamps:
      low, high = max(low, clamps[name][0]), min(high, clamps[name][1])
    low, high = min(low, 0.0), max(high, 0.0)
    shape = (1,) * max(obs.rank, 1)
    qsvs[name] = {"min": np.full(shape, low, np.float32), "max": np.full(shape, high, np.float32)}
  return qsvs


def _pooled_quantile(sketches: np.ndarray, q: float) -> float:
  """The q-quantile of the equal-weight mixture of the samples' distributions."""
  candidates = np.unique(sketches)
  # Mixture CDF at each candidate: mean over samples of that sample's interpolated CDF.
  cdf = np.mean([np.interp(candidates, s, _GRID, left=0.0, right=1.0) for s in sketches], axis=0)
  position = int(np.searchsorted(cdf, q, side="left"))
  return float(candidates[min(position, len(candidates) - 1)])


_SHAPE_ONLY = {schema.BuiltinOperator.RESHAPE, schema.BuiltinOperator.CONCATENATION}


def propagate_clamps(model: schema.ModelT, clamps: dict[str, tuple[float, float]]):
  """Extends clamps on tensors upstream through ops that only move values (reshape, concat)."""
  graph = model.subgraphs[0]
  producer = {int(o): op for op in graph.operators for o in op.outputs}
  names = {t.name.decode(): i for i, t in enumerate(graph.tensors)}
  out = dict(clamps)
  pending = [names[n] for n in clamps if n in names]
  while pending:
    index = pending.pop()
    op = producer.get(index)
    if op is None or tflite_file.builtin_code(model, op) not in _SHAPE_ONLY:
      continue
    bounds = out[graph.tensors[index].name.decode()]
    for i in op.inputs:
      tensor = graph.tensors[int(i)]
      if i >= 0 and tensor.type == schema.TensorType.FLOAT32 and not tflite_file.is_constant(model, tensor):
        out[tensor.name.decode()] = bounds
        pending.append(int(i))
  return out
