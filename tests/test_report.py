"""report: the JSON a build keeps and the table a person reads."""

import json

from mediapipe_int8 import report

REPORT = {
    "input": "face.task", "input_bytes": 4000, "output_bytes": 2500,
    "models": [
        {"name": "a.tflite", "recipe": "int8", "bytes_before": 3000, "bytes_after": 1500,
         "ops": {"CONV_2D": {"int8": 3}, "PRELU": {"float": 2}},
         "outputs": [{"name": "x", "max_abs_error": 0.5, "sqnr_db": 12.25},
                     {"name": "y", "max_abs_error": 0.0, "sqnr_db": float("inf")}],
         "landmarks_px": {"mean": 1.234, "max": 5.678}},
        {"name": "b.tflite", "recipe": "weight_only_int8", "bytes_before": 1000,
         "bytes_after": 1000, "ops": {"ADD": {"float, int8 weights": 1}}},
    ],
}


def test_json_is_sorted_finite_and_holds_the_table():
  data = report.to_json(REPORT)
  assert data == report.to_json(dict(reversed(list(REPORT.items()))))  # key order never matters
  parsed = json.loads(data)
  assert list(parsed) == sorted(parsed)
  assert parsed["models"][0]["outputs"][1]["sqnr_db"] is None  # JSON has no infinity
  assert parsed["table"] == report.table(REPORT)


def test_floats_keep_six_significant_digits():
  assert json.loads(report.to_json({"input": "a", "input_bytes": 1, "output_bytes": 1, "models": [],
                                    "x": 1 / 3}))["x"] == 0.333333


def test_table_rows_count_ops_and_name_the_worst_output():
  lines = report.table(REPORT).splitlines()
  assert lines[0] == "face.task: 4,000 -> 2,500 bytes (62%)"
  a_row = next(l for l in lines if l.startswith("a.tflite"))
  assert "3,000 -> 1,500" in a_row
  assert a_row.split()[5:7] == ["3", "2"]  # int8 ops, float ops
  assert "0.5, 12.2 dB" in a_row and "1.23 / 5.68" in a_row
  b_row = next(l for l in lines if l.startswith("b.tflite"))
  assert b_row.split()[5:7] == ["0", "1"]
