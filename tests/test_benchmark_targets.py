"""The benchmark's target table: each variant against the issue's targets, with measured values."""

from mediapipe_int8 import benchmark, evaluate, landmarkers


def _comparison(nme, lost, blendshapes):
  found = [evaluate.DetectionError("a.jpg", nme, 1.0, 2.0, blendshapes)]
  return evaluate.Comparison(found, reference_count=len(found) + lost, lost=lost)


def test_each_target_says_yes_or_no_with_the_measured_value():
  face = landmarkers.FACE
  bundles = {"float16 (Google)": b"x" * 1000, "int8": b"x" * 630, "small": b"x" * 480}
  accuracy = {"float16 (Google)": None, "int8": _comparison(0.042, 1, 0.94),
              "small": _comparison(0.012, 0, 0.30)}
  floor = _comparison(0.0131, 0, 0.46)
  full = {"macs": 100, "int8_share": 1.0}
  half = {"macs": 300, "int8_share": 0.5}
  model_rows = [  # (model, variant, bytes, MAC share, inner conversions, ms, ratio, ms, ratio)
      (face.detector, "int8", 0, full, 0, 1.0, 0.66, 1.0, 0.7),
      (face.landmarks, "int8", 0, half, 138, 1.0, 0.84, 1.0, 0.9),
      (face.detector, "small", 0, full, 0, 1.0, 1.0, 1.0, 1.0),
      (face.landmarks, "small", 0, full, 0, 1.0, 1.08, 1.0, 1.1),
  ]
  lines = benchmark.target_lines(face, bundles, accuracy, floor, model_rows)
  rows = {l.split(" | ")[0].lstrip("| "): l.split(" | ")[1:] for l in lines if l.startswith("| ")}
  assert rows["int8"] == ["no, 63%", "no, 62%", "no, 138", "no, 1 lost", "no, 4.20% vs 1.31%",
                          "no, 0.94 vs 0.46", "yes, 0.84x |"]
  assert rows["small"] == ["yes, 48%", "yes, 100%", "yes, 0", "yes, 0 lost", "yes, 1.20% vs 1.31%",
                           "yes, 0.30 vs 0.46", "no, 1.08x |"]
  assert "float16 (Google)" not in rows
