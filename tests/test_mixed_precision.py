"""mixed_precision: the `auto` search's groups, judges and failure messages, on a small model."""

import pytest

import synthetic
from mediapipe_int8 import mixed_precision, quantize


def test_groups_are_contiguous_and_cover_every_op_once():
  ops = [f"op{i}" for i in range(19)]
  groups = mixed_precision._groups(ops)
  assert len(groups) == mixed_precision.GROUPS_PER_MODEL
  assert [op for g in groups for op in g] == ops
  assert mixed_precision._groups(["a", "b"]) == [["a"], ["b"]]  # fewer ops than groups


def _search(sqnr_db: float) -> mixed_precision.Result:
  """`auto` on a small conv model judged by its output's SQNR, on seeded random inputs."""
  prepared, samples = synthetic.random_samples(synthetic.image_model(size=16))
  quantization = quantize.Quantization(prepared, "a.tflite", quantize.StaticOptions(),
                                       samples.calibration)
  return mixed_precision.search({"a.tflite": quantization}, {"a.tflite": samples}, None, [],
                                mixed_precision.Budget(sqnr_db=sqnr_db))


def test_a_budget_int8_meets_stops_at_all_int8():
  result = _search(sqnr_db=5.0)
  assert result.report["holds"]
  assert [s["move"] for s in result.report["steps"]] == ["all int8"]
  assert result.float_ops == {"a.tflite": []} and result.fallback == {}


def test_a_budget_only_float_meets_fails_with_a_message_that_says_so():
  result = _search(sqnr_db=400.0)  # no quantized model is that exact
  assert not result.report["holds"]
  assert result.fallback == {"a.tflite": "none"}
  message = mixed_precision.failure(result)
  assert message.startswith("only the float models meet the error budget {'sqnr_db': 400.0}")
  # Every step is recorded, in order, each with what it measured.
  assert result.report["steps"][0]["move"] == "all int8"
  assert all("measured" in s for s in result.report["steps"])


def test_the_search_is_deterministic():
  first, second = _search(sqnr_db=400.0), _search(sqnr_db=400.0)
  assert first.report == second.report
