"""Which recipes train with --reconstruct_steps: int8 (learned int8), auto (its search starts from
learned int8) and weight_only_int8 (learned rounding, activations float); none without steps."""

import numpy as np

from mediapipe_int8 import tf_graph

tf_graph.deterministic()  # at collection, before any test runs TensorFlow (synthetic models do)

import synthetic  # noqa: E402
from mediapipe_int8 import quantize, tflite_file  # noqa: E402


def _quantization(steps: int) -> quantize.Quantization:
  """A conv then a depthwise conv (ops tf_graph simulates) on seeded random images."""
  prepared, samples = synthetic.random_samples(synthetic.linear_conv_model())
  options = quantize.StaticOptions(reconstruct_steps=steps)
  return quantize.Quantization(prepared, "a.tflite", options, samples.calibration)


def _activation_types(model) -> set[str]:
  graph = model.subgraphs[0]
  return {tflite_file.type_name(t.type) for t in graph.tensors if not tflite_file.is_constant(model, t)}


def test_int8_auto_and_weight_only_train_with_steps():
  quantization = _quantization(steps=3)
  reports = {}
  for recipe in ("int8", "auto", "weight_only_int8"):
    model, rewrites = quantization.build(recipe)
    reports[recipe] = rewrites["reconstruction"]
    assert reports[recipe]["steps"] == 3
    if recipe == "weight_only_int8":
      assert _activation_types(model) == {"FLOAT32"}
    else:
      assert "INT8" in _activation_types(model)
  assert reports["int8"] == reports["auto"]  # one training serves both
  assert reports["int8"]["int8_activations"] is True
  assert reports["weight_only_int8"]["int8_activations"] is False


def test_learned_rounding_moves_weights_off_the_engines_rounding():
  """The trained weight-only model's int8 weights are not all the engine's own rounding of the
  float weights: training changed some (and the engine wrote what training chose)."""
  def int8_weights(model) -> list[np.ndarray]:
    graph = model.subgraphs[0]
    return [tflite_file.constant_values(model, t, np.int8) for t in graph.tensors
            if tflite_file.type_name(t.type) == "INT8" and tflite_file.is_constant(model, t)]

  plain, plain_rewrites = _quantization(steps=0).build("weight_only_int8")
  trained, _ = _quantization(steps=20).build("weight_only_int8")
  assert "reconstruction" not in plain_rewrites
  before, after = int8_weights(plain), int8_weights(trained)
  assert len(before) == len(after) == 2
  assert any(not np.array_equal(b, a) for b, a in zip(before, after))
  assert all(np.abs(b.astype(int) - a.astype(int)).max() <= 2 for b, a in zip(before, after))
