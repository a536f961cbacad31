"""Runs a .tflite model on the CPU with one thread, so results repeat exactly."""

import numpy as np
from ai_edge_litert import interpreter as litert

THREADS = 1


class Model:
  """A loaded model: call it with one array per input, get one array per output."""

  def __init__(self, data: bytes):
    self._interpreter = litert.Interpreter(model_content=bytes(data), num_threads=THREADS)
    self._interpreter.allocate_tensors()
    self._inputs = self._interpreter.get_input_details()
    self._outputs = self._interpreter.get_output_details()

  @property
  def input_names(self) -> list[str]:
    return [d["name"] for d in self._inputs]

  def __call__(self, *arrays: np.ndarray) -> list[np.ndarray]:
    for detail, array in zip(self._inputs, arrays, strict=True):
      self._interpreter.set_tensor(detail["index"], np.asarray(array, detail["dtype"]))
    self._interpreter.invoke()
    return [self._interpreter.get_tensor(d["index"]).copy() for d in self._outputs]
