"""Accuracy gate: a quantized face, hand or pose landmarker bundle against its float bundle, in MediaPipe's runtime.

Runs both bundles with MediaPipe's FaceLandmarker, HandLandmarker or PoseLandmarker (IMAGE mode) on
the given photos, prints the measured numbers per photo and overall, and exits 1 when the quantized
bundle is outside the budget: a face, hand or pose float finds is lost (beyond those float itself
loses when the photo moves one pixel), the landmark NME exceeds the budget, or a blendshape score
moves more than allowed. The default budget is float's own change when the photos move by one pixel.

  python -m mediapipe_int8.accuracy_gate --float_task=float.task --task=int8.task \\
      --photo=a.jpg --photo=b.png [--budget_nme=0.02] [--budget_blendshapes=0.5]
"""

import sys

from absl import app, flags, logging

from mediapipe_int8 import bundle, evaluate, landmarkers, photos
from mediapipe_int8.errors import UserError

FLAGS = flags.FLAGS


def _define_flags() -> None:
  """The gate's flags, defined by its entry point only: a library import defines none, so the
  quantizer's command line (which has its own --budget_nme) can share a process with judge()."""
  flags.DEFINE_string("float_task", None, "The float bundle the quantized one must agree with.")
  flags.DEFINE_string("task", None, "The quantized bundle under test.")
  flags.DEFINE_multi_string("photo", [], "A photo to judge on (repeatable); never a calibration photo.")
  flags.DEFINE_float("budget_nme", None, "Largest mean landmark NME against float (default: float's "
                     "own under a one-pixel move of the photos).")
  flags.DEFINE_float("budget_blendshapes", None, "Largest blendshape score change (default: float's "
                     "own under a one-pixel move).")


def _read_landmarker(path: str) -> tuple[bytes, landmarkers.Kind, bool]:
  """(bundle bytes, its kind, whether it has a blendshapes model)."""
  try:
    with open(path, "rb") as f:
      data = f.read()
  except OSError as e:
    raise UserError(f"{path}: cannot be read ({e.strerror})") from None
  names = {e.name for e in bundle.read_entries(data, path)}
  kind = landmarkers.kind_of(names)
  if kind is None:
    raise UserError(f"{path}: not a face, hand or pose landmarker bundle (needs "
                    + " or ".join(f"{k.detector} and {k.landmarks}" for k in landmarkers.KINDS)
                    + "); the gate judges those only")
  return data, kind, kind.blendshapes in names


def judge(float_task: str, task: str, photo_paths: list[str], budget_nme: float | None,
          budget_blendshapes: float | None) -> tuple[bool, list[str]]:
  """(passed, report lines)."""
  if not photo_paths:
    raise UserError("--photo: give at least one photo")
  reference_bundle, kind, float_blend = _read_landmarker(float_task)
  candidate_bundle, candidate_kind, blend = _read_landmarker(task)
  if candidate_kind != kind:
    raise UserError(f"{task}: a {candidate_kind.noun} landmarker, but {float_task} is a {kind.noun} "
                    "landmarker")
  blendshapes = float_blend and blend
  judged = photos.load(photo_paths)
  reference = evaluate.detect_all(kind, reference_bundle, judged, blendshapes)
  floor = evaluate.float_jitter(kind, reference_bundle, judged, reference, blendshapes)
  candidate = evaluate.detect_all(kind, candidate_bundle, judged, blendshapes)
  result = evaluate.compare(kind, reference, candidate, judged)
  nme = budget_nme if budget_nme is not None else floor.mean_nme
  blend_budget = budget_blendshapes if budget_blendshapes is not None else floor.blendshape_max
  width = max([24] + [len(f.photo) for f in result.found])
  lines = [f"{'photo':<{width}} {'NME':>7} {'px mean':>8} {'px max':>7} {'blendshapes':>11}"]
  for found in result.found:
    blend_text = "-" if found.blendshape_max is None else f"{found.blendshape_max:.3f}"
    lines.append(f"{found.photo:<{width}} {100 * found.nme:6.2f}% {found.mean_px:8.2f} {found.max_px:7.1f} "
                 f"{blend_text:>11}")
  failures = []
  noun = kind.noun
  if result.reference_count == 0:
    failures.append(f"float finds no {noun} in these photos")
  if result.lost > floor.lost:
    failures.append(f"{result.lost} of {result.reference_count} {noun}s lost "
                    f"(float itself loses {floor.lost} under a one-pixel move)")
  if result.found and result.mean_nme > nme:
    failures.append(f"mean NME {100 * result.mean_nme:.2f}% > budget {100 * nme:.2f}%")
  if blendshapes and result.blendshape_max is not None and blend_budget is not None \
      and result.blendshape_max > blend_budget:
    failures.append(f"blendshape change {result.blendshape_max:.3f} > budget {blend_budget:.3f}")
  lines.append(f"overall: NME {100 * result.mean_nme:.2f}% (budget {100 * nme:.2f}%; float moved one "
               f"pixel: {100 * floor.mean_nme:.2f}%; NME unit: {kind.scale_name}), "
               f"{noun}s lost {result.lost} of {result.reference_count}" + (f", blendshapes {result.blendshape_max:.3f} (budget "
                                              f"{blend_budget:.3f})" if blendshapes and
                                              result.blendshape_max is not None else ""))
  lines += [f"FAIL: {f}" for f in failures] or ["PASS"]
  return not failures, lines


def main(argv) -> int:
  del argv
  logging.set_verbosity(logging.WARNING)
  try:
    for flag in ("float_task", "task"):
      if not FLAGS[flag].value:
        raise UserError(f"--{flag} is required")
    passed, lines = judge(FLAGS.float_task, FLAGS.task, FLAGS.photo, FLAGS.budget_nme,
                          FLAGS.budget_blendshapes)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    return 1
  print("\n".join(lines))
  return 0 if passed else 1


def run() -> None:
  import os
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  os.environ.setdefault("GLOG_minloglevel", "2")
  _define_flags()
  app.run(main)


if __name__ == "__main__":
  run()
