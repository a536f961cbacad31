"""Checks a quantized model against its float source before anything is written.

Interface (input and output types and shapes) and metadata must be exactly the
source's (with int8 inputs and outputs asked for: int8 where the source has float32, each with its
scale and zero point); a model that fails either is refused. Numbers (max abs error, SQNR,
landmark pixels) come from held-back samples that calibration never saw.
"""

import dataclasses
import math

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from mediapipe_int8 import runner, tflite_file
from mediapipe_int8.errors import UserError



@dataclasses.dataclass
class OutputError:
  name: str
  max_abs: float
  sqnr_db: float


@dataclasses.dataclass
class LandmarkError:
  mean_px: float
  max_px: float


def check_interface(source: schema.ModelT, output: schema.ModelT, name: str, io: str = "float") -> None:
  """Refuses an output model whose inputs or outputs differ in shape from the source's, or in type:
  the source's types, or with io="int8" int8 for each float32 one, recording one scale and zero
  point (users need them to convert values)."""
  for kind in ("inputs", "outputs"):
    want = _ends(source, kind)
    if io == "int8":
      want = [(schema.TensorType.INT8 if t == schema.TensorType.FLOAT32 else t, s) for t, s in want]
    got = _ends(output, kind)
    if want != got:
      raise UserError(f"{name}: quantized model's {kind} {_describe(got)} differ from the "
                      f"{'int8 form of the ' if io == 'int8' else ''}source's {_describe(want)}; "
                      "nothing written")
    for end in interface(output)[kind]:
      if end["dtype"] == "INT8" and end["scale"] is None:
        raise UserError(f"{name}: quantized model's int8 {kind[:-1]} {end['name']} records no "
                        "single scale and zero point; nothing written")


def interface(model: schema.ModelT) -> dict[str, list[dict]]:
  """Per input and output: name, dtype, shape, and for a quantized tensor its scale and zero point
  (real = scale * (q - zero_point)); None for a float tensor."""
  graph = model.subgraphs[0]
  out = {}
  for kind in ("inputs", "outputs"):
    out[kind] = []
    for i in getattr(graph, kind):
      tensor = graph.tensors[i]
      q = tensor.quantization
      scales = [] if q is None or q.scale is None else [float(v) for v in q.scale]
      zero_points = [] if q is None or q.zeroPoint is None else [int(v) for v in q.zeroPoint]
      single = len(scales) == 1 and len(zero_points) == 1
      out[kind].append({"name": tensor.name.decode(), "dtype": tflite_file.type_name(tensor.type),
                        "shape": [int(d) for d in tensor.shape],
                        "scale": scales[0] if single else None,
                        "zero_point": zero_points[0] if single else None})
  return out


def _ends(model: schema.ModelT, kind: str) -> list[tuple[int, tuple[int, ...]]]:
  graph = model.subgraphs[0]
  return [(graph.tensors[i].type, tuple(int(d) for d in graph.tensors[i].shape))
          for i in getattr(graph, kind)]


def _describe(ends) -> str:
  return "[" + ", ".join(f"{tflite_file.type_name(t)}{list(s)}" for t, s in ends) + "]"


def check_metadata(source: schema.ModelT, output: schema.ModelT, name: str) -> None:
  """Refuses an output model whose metadata buffers are not byte-identical to the source's."""
  want = tflite_file.metadata_buffers(source)
  got = tflite_file.metadata_buffers(output)
  for key, value in want.items():
    if got.get(key) != value:
      raise UserError(f"{name}: metadata {key} changed in quantization; nothing written")


def compare(float_model: bytes, quantized_model: bytes, samples: list[list[np.ndarray]],
            output_names: list[str], landmark_scales: list[float] | None = None,
            clamps: dict[str, tuple[float, float]] | None = None, values_per_landmark: int = 3):
  """Max abs error and SQNR per output, and landmark error in image pixels where asked.

  Outputs named in `clamps` are compared after clipping both to those bounds, as the pipeline
  that reads them does (a detector's far-off background anchors would swamp the numbers).
  """
  # An int8-I/O model takes the float samples quantized and its outputs are dequantized, so the
  # errors are in the float model's units.
  reference, candidate = runner.Model(float_model), runner.Model(quantized_model, float_io=True)
  expected, actual = [], []
  for sample in samples:
    expected.append(reference(*sample))
    actual.append(candidate(*sample))
  errors = []
  for i, name in enumerate(output_names):
    want = np.concatenate([e[i].ravel() for e in expected]).astype(np.float64)
    got = np.concatenate([a[i].ravel() for a in actual]).astype(np.float64)
    if clamps and name in clamps:
      want, got = np.clip(want, *clamps[name]), np.clip(got, *clamps[name])
    errors.append(OutputError(name, float(np.abs(want - got).max()), sqnr_db(want, got)))
  landmarks = None
  if landmark_scales is not None:
    distances = []
    for e, a, scale in zip(expected, actual, landmark_scales, strict=True):
      want = e[0].reshape(-1, values_per_landmark)[:, :2]
      got = a[0].reshape(-1, values_per_landmark)[:, :2]
      distances.append(np.linalg.norm(want - got, axis=1) * scale)
    distances = np.concatenate(distances)
    landmarks = LandmarkError(float(distances.mean()), float(distances.max()))
  return errors, landmarks


def compare_held_back(float_model: schema.ModelT, float_bytes: bytes, quantized_bytes: bytes, samples):
  """compare() on a calibrate.Samples' held-back set, outputs named as the float model names them."""
  graph = float_model.subgraphs[0]
  names = [graph.tensors[i].name.decode() for i in graph.outputs]
  return compare(float_bytes, quantized_bytes, samples.held_back, names,
                 samples.landmark_pixel_scale, samples.clamps, samples.values_per_landmark)


def sqnr_db(signal: np.ndarray, test: np.ndarray) -> float:
  noise = float(np.sum((signal - test) ** 2))
  power = float(np.sum(signal ** 2))
  if noise == 0.0:
    return math.inf
  return 10.0 * math.log10(power / noise) if power > 0 else -math.inf
