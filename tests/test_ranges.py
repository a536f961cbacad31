"""ranges.estimate: activation ranges from per-sample sketches, as the engine's fixed ranges."""

import numpy as np
import pytest

from mediapipe_int8 import ranges


def _observations(samples: list[np.ndarray]) -> dict[str, ranges.TensorObservations]:
  """Sketches as observe() makes them, of one rank-4 tensor over these samples."""
  sketches = []
  for values in samples:
    ordered = np.sort(values, axis=None)
    sketches.append(ordered[np.round(ranges._GRID * (ordered.size - 1)).astype(np.int64)])
  return {"t": ranges.TensorObservations(4, sketches)}


def _range(qsvs) -> tuple[float, float]:
  return float(qsvs["t"]["min"].item()), float(qsvs["t"]["max"].item())


def test_minmax_is_the_extremes_and_keeps_the_engines_shape():
  rng = np.random.default_rng(0)
  samples = [rng.uniform(1.0, 5.0, 10_000) for _ in range(3)]
  qsvs = ranges.estimate(_observations(samples), "minmax")
  # Ranges always include 0 (affine int8 needs it), so a positive tensor starts at 0.
  assert _range(qsvs) == pytest.approx((0.0, max(s.max() for s in samples)))
  assert qsvs["t"]["min"].shape == (1, 1, 1, 1) and qsvs["t"]["min"].dtype == np.float32


def test_percentile_ignores_a_rare_outlier_that_minmax_takes():
  rng = np.random.default_rng(1)
  samples = [rng.normal(0.0, 1.0, 100_000) for _ in range(4)]
  samples[2][7] = 1000.0  # one value in 400,000
  low, high = _range(ranges.estimate(_observations(samples), "percentile", 99.99))
  assert high == pytest.approx(3.72, abs=0.15)  # the normal's 99.99th percentile
  assert low == pytest.approx(-3.72, abs=0.15)
  assert _range(ranges.estimate(_observations(samples), "minmax"))[1] == 1000.0


def test_the_same_samples_in_another_order_give_the_same_ranges():
  rng = np.random.default_rng(2)
  samples = [rng.normal(i, 1.0 + i, 5_000) for i in range(6)]
  forward = ranges.estimate(_observations(samples), "percentile")
  backward = ranges.estimate(_observations(samples[::-1]), "percentile")
  assert _range(forward) == _range(backward)


def test_clamps_bound_a_range_that_the_pipeline_never_uses_beyond():
  samples = [np.linspace(-500.0, 500.0, 1001)]
  qsvs = ranges.estimate(_observations(samples), "minmax", clamps={"t": (-100.0, 100.0)})
  assert _range(qsvs) == (-100.0, 100.0)


def test_unknown_method_is_refused():
  with pytest.raises(ValueError):
    ranges.estimate(_observations([np.ones(10)]), "mse")
