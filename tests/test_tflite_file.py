"""tflite_file.serialize: each distinct array is written once, and the model reads back the same."""

import numpy as np
from ai_edge_litert.tools import flatbuffer_utils

import synthetic
from mediapipe_int8 import quantize, runner, tflite_file


def _int8_model():
  """The synthetic conv + depthwise + PReLU + dense model in int8, as the engine writes it."""
  prepared, samples = synthetic.random_samples(synthetic.image_model())
  quantization = quantize.Quantization(prepared, "a.tflite", quantize.StaticOptions(),
                                       samples.calibration)
  model, _ = quantization.build("int8")
  return model, samples.calibration


def _values(node, path=""):
  """Every value of a ModelT, by path: two models are the same model when these are equal."""
  if isinstance(node, np.ndarray):
    yield path, node.dtype.str, node.shape, node.tobytes()
  elif isinstance(node, (list, tuple)):
    for i, item in enumerate(node):
      yield from _values(item, f"{path}[{i}]")
  elif hasattr(node, "__dict__"):
    for name, value in sorted(vars(node).items()):
      yield from _values(value, f"{path}.{name}")
  else:
    yield path, node


def test_zero_points_are_written_once_and_the_model_reads_back_the_same():
  model, calibration = _int8_model()
  shared = tflite_file.serialize(model)
  one_per_table = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
  zero_points = [t.quantization.zeroPoint for t in model.subgraphs[0].tensors
                 if t.quantization is not None and t.quantization.zeroPoint is not None]
  # Per-channel int8 weights and int32 biases have int64 zero points, all 0: vectors of equal
  # length are the same vector, so at most one per length is written.
  distinct = {(z.shape, z.tobytes()) for z in zero_points}
  assert len(distinct) < len(zero_points)
  repeated_bytes = 8 * (sum(z.size for z in zero_points) - sum(s[0][0] for s in distinct))
  assert len(one_per_table) - len(shared) >= repeated_bytes > 0

  assert list(_values(tflite_file.parse(shared, "a"))) == list(_values(model))
  assert tflite_file.serialize(tflite_file.parse(shared, "a")) == shared
  for sample in calibration[:3]:
    for got, want in zip(runner.Model(shared)(*sample), runner.Model(one_per_table)(*sample)):
      np.testing.assert_array_equal(got, want)
