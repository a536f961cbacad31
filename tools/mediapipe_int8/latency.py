"""Side-by-side latency: models measured in interleaved rounds in one process, as ratios to float.

Interleaving (float, A, B, float, A, B, ...) spreads the machine's noise over every variant alike,
so the ratios hold even where absolute times drift.
"""

import statistics
import time

import numpy as np
from ai_edge_litert import interpreter as litert


def _interpreter(model: bytes, threads: int, inputs: list[np.ndarray]):
  interpreter = litert.Interpreter(model_content=bytes(model), num_threads=threads)  # XNNPACK on
  interpreter.allocate_tensors()
  for detail, array in zip(interpreter.get_input_details(), inputs, strict=True):
    interpreter.set_tensor(detail["index"], array.astype(detail["dtype"]))
  return interpreter


def median_ms(models: dict[str, bytes], inputs: list[np.ndarray], threads: int, runs: int = 50,
              warmup: int = 5) -> dict[str, float]:
  """Median invoke time in ms of each model on `inputs` (real ones: int8 kernels can fail on
  inputs far outside the calibrated ranges), measured in interleaved rounds."""
  interpreters = {name: _interpreter(data, threads, inputs) for name, data in models.items()}
  times = {name: [] for name in models}
  for round_index in range(warmup + runs):
    for name, interpreter in interpreters.items():
      start = time.perf_counter()
      interpreter.invoke()
      elapsed = time.perf_counter() - start
      if round_index >= warmup:
        times[name].append(elapsed * 1000.0)
  return {name: statistics.median(values) for name, values in times.items()}


def bundle_median_ms(kind, bundles: dict[str, bytes], images: list[np.ndarray], runs: int = 50,
                     warmup: int = 3) -> dict[str, float]:
  """Median time of MediaPipe's Face- or HandLandmarker.detect() per bundle, interleaved over images."""
  from mediapipe_int8 import landmarker_runtime

  landmarkers = {name: landmarker_runtime.Landmarker(kind, data, max_count=1,
                                                     blendshapes=kind.blendshapes is not None)
                 for name, data in bundles.items()}
  times = {name: [] for name in bundles}
  try:
    for round_index in range(warmup + runs):
      image = images[round_index % len(images)]
      for name, landmarker in landmarkers.items():
        start = time.perf_counter()
        landmarker.detect(image)
        elapsed = time.perf_counter() - start
        if round_index >= warmup:
          times[name].append(elapsed * 1000.0)
  finally:
    for landmarker in landmarkers.values():
      landmarker.close()
  return {name: statistics.median(values) for name, values in times.items()}
