"""rewrite.py: int8-friendly rewrites keep float outputs (bit-exact for fused RELU, rounding for PRELU)."""

import zipfile

import numpy as np
import pytest
from ai_edge_litert import interpreter as litert

import synthetic
from mediapipe_int8 import graph_stats, prepare, rewrite, tflite_file


def _run_reference_kernels(model_bytes: bytes, inputs):
  interpreter = litert.Interpreter(
      model_content=model_bytes,
      experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
  interpreter.allocate_tensors()
  for detail, array in zip(interpreter.get_input_details(), inputs):
    interpreter.set_tensor(detail["index"], array)
  interpreter.invoke()
  return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def _rewritten(original: bytes, name: str):
  model = prepare.prepare(tflite_file.parse(original, name)).model
  before = tflite_file.serialize(model)
  counts = rewrite.for_integer_kernels(model, prelu="int8")
  prepare.prune(model)
  return before, tflite_file.serialize(model), counts, model


def _inputs(model_bytes: bytes, seed: int):
  interpreter = litert.Interpreter(model_content=model_bytes)
  rng = np.random.default_rng(seed)
  return [rng.uniform(-1, 1, d["shape"]).astype(np.float32) for d in interpreter.get_input_details()]


@pytest.mark.parametrize("entry, fused, prelus, exact", [
    ("face_detector.tflite", 17, 0, True),
    ("face_landmarks_detector.tflite", 0, 69, False),
])
def test_google_models_keep_their_outputs(face_landmarker_task, entry, fused, prelus, exact):
  with zipfile.ZipFile(face_landmarker_task) as archive:
    before, after, counts, model = _rewritten(archive.read(entry), entry)
  assert counts == {"fused_activations": fused, "prelu_rewritten": prelus}
  ops = graph_stats.op_precisions(model)
  assert "PRELU" not in ops and "RELU" not in ops
  for seed in range(3):
    inputs = _inputs(before, seed)
    for want, got in zip(_run_reference_kernels(before, inputs), _run_reference_kernels(after, inputs)):
      if exact:
        np.testing.assert_array_equal(want, got)
      else:
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_synthetic_prelu_and_fused_relu():
  before, after, counts, _ = _rewritten(synthetic.image_model(), "synthetic.tflite")
  assert counts["prelu_rewritten"] == 1
  inputs = _inputs(before, 0)
  for want, got in zip(_run_reference_kernels(before, inputs), _run_reference_kernels(after, inputs)):
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
