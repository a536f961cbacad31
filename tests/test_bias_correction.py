"""bias_correction: the int8 weights it predicts are the engine's, and it takes their mean shift out."""

import numpy as np

import synthetic
from mediapipe_int8 import bias_correction, quantize, runner, tflite_file


def _quantization(correct_biases: bool):
  """A conv then a depthwise conv (no activation, no padding) on seeded random images whose mean
  is far from 0, so that rounded weights shift the outputs' means."""
  prepared, samples = synthetic.random_samples(synthetic.linear_conv_model())
  calibration = [[s[0] * 0.5 + 0.5] for s in samples.calibration]
  return quantize.Quantization(prepared, "a.tflite", quantize.StaticOptions(), calibration,
                               correct_biases=correct_biases), calibration


def _convs(model):
  graph = model.subgraphs[0]
  for op in graph.operators:
    axis = bias_correction.CHANNEL_AXIS.get(tflite_file.builtin_code(model, op))
    if axis is not None:
      yield graph, op, axis


def _weights(model, graph, op) -> np.ndarray:
  tensor = graph.tensors[op.inputs[1]]
  return tflite_file.constant_values(model, tensor, np.float32).reshape(tensor.shape).astype(np.float64)


def test_predicted_int8_weights_are_the_engines():
  quantization, _ = _quantization(False)
  quantized, _ = quantization.build("int8")
  _, float_model, _, _ = quantization.integer_model()
  float_convs = list(_convs(float_model))
  convs = list(_convs(quantized))
  assert len(convs) == len(float_convs) == 2
  for (graph, op, axis), (fgraph, fop, _) in zip(convs, float_convs):
    weights = graph.tensors[op.inputs[1]]
    ints = tflite_file.constant_values(quantized, weights, np.int8).reshape(weights.shape)
    shape = [1] * ints.ndim
    shape[axis] = -1
    engine = ints * np.asarray(weights.quantization.scale, np.float64).reshape(shape)
    predicted = bias_correction.int8_weights(_weights(float_model, fgraph, fop), axis)
    np.testing.assert_allclose(predicted, engine, rtol=1e-6, atol=1e-9)


def _with_int8_weights(data: bytes) -> runner.Model:
  """The model computing in float with its conv weights rounded as int8 rounds them."""
  model = tflite_file.parse(data, "m")
  for graph, op, axis in _convs(model):
    rounded = bias_correction.int8_weights(_weights(model, graph, op), axis).astype(np.float32)
    model.buffers[graph.tensors[op.inputs[1]].buffer].data = np.frombuffer(rounded.tobytes(), np.uint8)
  return runner.Model(tflite_file.serialize(model))


def _mean_output(model: runner.Model, calibration) -> np.ndarray:
  return np.mean([model(*s)[0].reshape(-1, 8).mean(0) for s in calibration], axis=0)


def test_corrected_biases_give_float_means_with_int8_weights():
  """In a linear network the correction is exact: with int8 weights, the corrected model's mean
  output over the calibration samples is float's."""
  plain, calibration = _quantization(False)
  corrected, _ = _quantization(True)
  float_bytes, _, _, _ = plain.integer_model()
  corrected_bytes, _, rewrites, _ = corrected.integer_model()
  assert rewrites["biases_corrected"] == 2
  want = _mean_output(runner.Model(float_bytes), calibration)
  before = np.abs(_mean_output(_with_int8_weights(float_bytes), calibration) - want).max()
  after = np.abs(_mean_output(_with_int8_weights(corrected_bytes), calibration) - want).max()
  print(before, after)
  assert before > 1e-4 and after < 0.01 * before
