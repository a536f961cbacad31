"""Runs a .tflite model on the CPU with one thread, so results repeat exactly."""

import numpy as np
from ai_edge_litert import interpreter as litert

THREADS = 1


class Model:
  """A loaded model: call it with one array per input, get one array per output.

  With `float_io`, an integer input or output that records a scale and zero point (a model made
  with int8 inputs and outputs) takes float values and gives float values: inputs are quantized
  and outputs dequantized with the tensor's own parameters, so it compares with a float model.
  """

  def __init__(self, data: bytes, float_io: bool = False):
    self._interpreter = litert.Interpreter(model_content=bytes(data), num_threads=THREADS)
    self._interpreter.allocate_tensors()
    self._inputs = self._interpreter.get_input_details()
    self._outputs = self._interpreter.get_output_details()
    self._float_io = float_io

  @property
  def input_names(self) -> list[str]:
    return [d["name"] for d in self._inputs]

  def __call__(self, *arrays: np.ndarray) -> list[np.ndarray]:
    for detail, array in zip(self._inputs, arrays, strict=True):
      value = to_input(detail, array) if self._float_io else np.asarray(array, detail["dtype"])
      self._interpreter.set_tensor(detail["index"], value)
    self._interpreter.invoke()
    outputs = [self._interpreter.get_tensor(d["index"]).copy() for d in self._outputs]
    if self._float_io:
      outputs = [from_output(d, o) for d, o in zip(self._outputs, outputs, strict=True)]
    return outputs


def _scale_and_zero_point(detail: dict) -> tuple[float, int] | None:
  """A quantized integer tensor's (scale, zero point), from the interpreter's tensor details."""
  scale, zero_point = detail["quantization"]
  if not np.issubdtype(detail["dtype"], np.integer) or scale == 0:
    return None
  return scale, zero_point


def to_input(detail: dict, array: np.ndarray) -> np.ndarray:
  """`array` as the input tensor takes it: float values quantized (round, clip) for a quantized
  integer input, q = round(real / scale) + zero_point; otherwise only cast."""
  array = np.asarray(array)
  params = _scale_and_zero_point(detail)
  if params is None or not np.issubdtype(array.dtype, np.floating):
    return np.asarray(array, detail["dtype"])
  scale, zero_point = params
  limits = np.iinfo(detail["dtype"])
  q = np.round(array.astype(np.float64) / scale) + zero_point
  return np.clip(q, limits.min, limits.max).astype(detail["dtype"])


def from_output(detail: dict, array: np.ndarray) -> np.ndarray:
  """A quantized integer output as float32 values, real = scale * (q - zero_point); others as they are."""
  params = _scale_and_zero_point(detail)
  if params is None:
    return array
  scale, zero_point = params
  return (np.float32(scale) * (array.astype(np.float32) - np.float32(zero_point))).astype(np.float32)
