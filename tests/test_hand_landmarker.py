"""Google's hand_landmarker.task end to end: quantize, load in MediaPipe's HandLandmarker, compare.

Calibration uses GCompris' photos of one child's hands (third_party/inputs.tsv, hand_calibration);
accuracy is judged on OpenCV's documentation photos of two adults' hands (hand_heldout), never
used for calibration. NME divides by the palm length (wrist to middle-finger knuckle). Bounds are
the values measured on this machine with a margin (README, "Hand landmarker"); float's own
one-pixel jitter on these hands is 1.16% NME, most of it on the dark photo.
"""

import pytest

from conftest import ROOT, gate_on, quantize_with_report, run_gate
from mediapipe_int8 import bundle, evaluate, landmarkers, photos

CALIBRATION = ROOT / ".cache" / "inputs" / "hand_calibration"
HELDOUT = ROOT / ".cache" / "inputs" / "hand_heldout"
DARK = "Histogram_Comparison_Source_2.jpg"

# recipe: (max bundle share of float, max mean NME, max hands lost of 4)
# Measured: weight_only_int8 56%, 1.99% (6.4% on the dark photo), none lost; int8 61%, 1.33% on
# the three it finds, the dark photo's hand lost (its int8 detector no longer scores it).
BOUNDS = {
    "weight_only_int8": (0.58, 0.025, 0),
    "int8": (0.63, 0.02, 1),
}


@pytest.fixture(scope="module")
def heldout_photos():
  listed = photos.load(sorted(str(p) for p in HELDOUT.iterdir()))
  assert len(listed) == 4, "run tools/test: it fetches the held-out hand photos"
  return listed


@pytest.fixture(scope="module")
def float_hands(hand_landmarker_task, heldout_photos):
  return evaluate.detect_all(landmarkers.HAND, hand_landmarker_task.read_bytes(), heldout_photos,
                             blendshapes=False)


@pytest.fixture(scope="module", params=sorted(BOUNDS))
def quantized(request, hand_landmarker_task, tmp_path_factory):
  data, report = quantize_with_report(hand_landmarker_task, request.param, CALIBRATION,
                                      tmp_path_factory.mktemp(request.param))
  return request.param, data, report


def test_float_finds_one_hand_in_each_heldout_photo(float_hands):
  assert [len(h) for h in float_hands] == [1, 1, 1, 1]


def test_the_dark_hand_is_on_a_knife_edge_for_float_itself(hand_landmarker_task, heldout_photos,
                                                           float_hands):
  """Why int8 losing the dark photo's hand says little about int8: float itself loses it when the
  photo moves 4 px, and answers another hand pose when it moves 2 px, as int8 variants that keep
  it do (learned int8 of the detector: 56% NME)."""
  index = [p.name for p in heldout_photos].index(DARK)
  dark, reference = heldout_photos[index:index + 1], float_hands[index:index + 1]
  data = hand_landmarker_task.read_bytes()

  def moved(shift):
    found = evaluate.detect_all(landmarkers.HAND, data, dark, blendshapes=False, shift=shift)
    return evaluate.compare(landmarkers.HAND, reference, found, dark, shift=shift)

  assert moved((1, 1)).found[0].nme < 0.05  # measured 3.2%
  assert moved((4, 0)).lost == 1
  other_pose = moved((-2, 1))
  assert other_pose.lost == 0 and other_pose.found[0].nme > 0.5  # measured 75%


def test_mediapipe_loads_it_and_it_keeps_float_answers(quantized, float_hands, heldout_photos,
                                                        hand_landmarker_task):
  recipe, data, _ = quantized
  max_share, max_nme, max_lost = BOUNDS[recipe]
  assert len(data) <= max_share * hand_landmarker_task.stat().st_size
  hands = evaluate.detect_all(landmarkers.HAND, data, heldout_photos, blendshapes=False)
  comparison = evaluate.compare(landmarkers.HAND, float_hands, hands, heldout_photos)
  print(recipe, comparison.as_dict())
  assert comparison.reference_count == 4
  assert comparison.lost <= max_lost
  assert comparison.mean_nme <= max_nme
  # Every photo but the dark one keeps its hand, a few pixels from float's at most.
  bright = [f for f in comparison.found if f.photo != DARK]
  assert len(bright) == 3 and max(f.nme for f in bright) < 0.025


def test_landmarks_model_calibrates_on_hand_crops(quantized):
  recipe, data, report = quantized
  models = {m["name"]: m for m in report["models"]}
  assert [e.name for e in bundle.read_entries(data, "out")] == ["hand_detector.tflite",
                                                               "hand_landmarks_detector.tflite"]
  if recipe != "int8":
    return
  landmarks_model = models["hand_landmarks_detector.tflite"]
  assert landmarks_model["calibration"]["source"].startswith("hand crops around the float pipeline's")
  assert models["hand_detector.tflite"]["calibration"]["clamps"] == {"Identity": [-160.0, 160.0],
                                                                     "Identity_1": [-20.0, 20.0]}
  # Google's hand landmarks model has thousands of all-zero weight channels (measured 5,426).
  assert landmarks_model["rewrites"]["dead_channel_biases"] > 1000


def test_accuracy_gate_judges_hand_bundles(quantized, hand_landmarker_task, tmp_path):
  """Default budget: float's own one-pixel jitter. Weight-only passes a 2.5% budget; int8 fails
  any budget since it loses the dark photo's hand."""
  recipe, data, _ = quantized
  process, overall = gate_on(hand_landmarker_task, data, sorted(HELDOUT.iterdir()), tmp_path,
                             "--budget_nme=0.025")
  assert "palm length" in overall
  if recipe == "weight_only_int8":
    assert "hands lost 0 of 4" in overall
    assert process.returncode == 0 and process.stdout.rstrip().endswith("PASS")
  else:
    assert process.returncode == 1 and "FAIL: 1 of 4 hands lost" in process.stdout


def test_gate_refuses_a_face_bundle_against_a_hand_bundle(hand_landmarker_task, face_landmarker_task):
  process = run_gate(hand_landmarker_task, face_landmarker_task, sorted(HELDOUT.iterdir())[:1])
  assert process.returncode == 1
  assert process.stderr.strip().splitlines()[-1] == (
      f"error: {face_landmarker_task}: a face landmarker, but {hand_landmarker_task} is a hand landmarker")
