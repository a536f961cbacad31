"""Photos -> input samples for each model of a bundle, calibration and held-back sets.

Each model is fed what it sees in its pipeline. A face landmarker bundle is a
cascade: the detector sees the whole photo, the landmarks model a rotated
face crop, the blendshapes model 146 landmarks in image pixels; a hand
landmarker likewise (detector, then rotated hand crops). Crops come
from the float bundle itself, run in MediaPipe's runtime; a pose landmarker's
are framed from its float detector's keypoints, as MediaPipe frames them. A
model of an unknown bundle with an image input gets the whole photo
letterboxed to its input size, normalised as its metadata says, with a warning
(its pipeline may feed it crops); a detector named as a known landmarker's
keeps that landmarker's output clamps. A holistic bundle (pose, face and hand
models) is not a face landmarker: its crops come from the pose model, which
this tool does not follow, so calibrated recipes are refused for it. Random
inputs only where the user names the model in --random_calibration.

Every sample is a function of (photo order, sample index, fixed seed): the
same photos give the same samples on every run and machine.
"""

import dataclasses
import math
import zlib

import numpy as np

from mediapipe_int8 import bundle, detector_roi, image_input, landmarker_runtime, landmarkers, runner
from mediapipe_int8.errors import UserError
from mediapipe_int8.photos import Photo

SEED = 20261127


@dataclasses.dataclass
class Samples:
  """Inputs for one model: each sample is one array per model input, in input order."""
  calibration: list[list[np.ndarray]]
  held_back: list[list[np.ndarray]]
  source: str  # how they were made, for the report
  # Image pixels per output unit of the landmarks output, per held-back sample (landmarks model only).
  landmark_pixel_scale: list[float] | None = None
  # Bounds on named tensors' ranges that the pipeline makes lossless (values beyond are never used).
  clamps: dict[str, tuple[float, float]] | None = None
  # Why these samples may not be what the model sees in its pipeline (one line), or None.
  warning: str | None = None
  # Values per landmark in the landmarks output (x and y first), where landmark_pixel_scale is set.
  values_per_landmark: int = 3
  # Whether integer recipes correct the model's biases for its int8 weights (bias_correction.py).
  correct_biases: bool = False


@dataclasses.dataclass(frozen=True)
class ModelInfo:
  """What calibration needs to know of a prepared float model."""
  name: str
  float_model: bytes
  input_shapes: list[tuple[int, ...]]
  image: image_input.ImageInput | None


def num_held_back(num_calibration: int) -> int:
  return max(4, num_calibration // 4)


def make_samples(models: dict[str, ModelInfo], needs: set[str], float_bundle: bytes | None,
                 photos: list[Photo], num_samples: int, random_names: set[str],
                 source: str, optional: frozenset[str] = frozenset()) -> dict[str, Samples]:
  """Samples for the models named in `needs` or `optional`; `models` holds every model of the bundle.

  `optional` models only want held-back samples for checks: they are left out where photos can't
  feed them.
  """
  needs = needs | (optional if photos else set())
  out = {}
  for name in sorted(random_names & needs):
    out[name] = _random_samples(models[name], num_samples)
  rest = needs - out.keys()
  if not rest:
    return out
  calibrated = rest - optional
  holistic = float_bundle is not None and landmarkers.is_holistic(
      set(models) | {e.name for e in bundle.read_entries(float_bundle, source)})
  if holistic and calibrated:
    raise UserError(f"{source}: looks like a holistic landmarker (pose, face and hand models in one "
                    "bundle), whose crops this tool can't make, so it can't calibrate "
                    f"{', '.join(sorted(calibrated))}; use --recipe=weight_only_int8 or dynamic_int8")
  if not photos:
    raise UserError(f"{source}: {', '.join(sorted(rest))} needs calibration photos: "
                    "pass --calibration_dir (or --random_calibration=NAME to use random inputs)")
  kind = None if holistic else landmarkers.kind_of(models)  # with some entries excluded too
  if float_bundle is not None and kind is not None:
    out.update(_cascade_samples(kind, models, rest, float_bundle, photos, num_samples, source))
    rest -= out.keys()
  for name in sorted(rest):
    if name in optional and models[name].image is None:
      continue
    out[name] = _whole_photo_samples(models[name], photos, num_samples, source)
    detector = landmarkers.detector_named(name)
    if detector is not None:  # the same detector as in its landmarker: the same treatment
      out[name].clamps = detector.detector_clamps
      out[name].correct_biases = detector.detector_bias_correction
    elif float_bundle is not None and name in calibrated:
      out[name].warning = (f"{source}/{name}: not part of a face or hand landmarker this tool "
                           "knows, so it is calibrated on whole photos; if its pipeline feeds it "
                           "crops, int8 may be poor there (weight_only_int8 needs no calibration)")
  return out


def split_photos(photos: list[Photo]) -> tuple[list[Photo], list[Photo], str]:
  """Every 4th photo is held back for checks when there are several; else held-back samples are
  other variants (shift, scale, rotation) of the same photos."""
  if len(photos) >= 2:
    held = [p for i, p in enumerate(photos) if i % 4 == 3] or [photos[-1]]
    used = [p for p in photos if p not in held]
    return used, held, "held-back photos: " + ", ".join(p.name for p in held)
  return photos, photos, "held-back variants of the calibration photos (one photo only)"


def _random_samples(info: ModelInfo, num_samples: int) -> Samples:
  rng = np.random.default_rng([SEED, zlib.crc32(info.name.encode())])
  def draw():
    return [rng.uniform(-1.0, 1.0, shape).astype(np.float32) for shape in info.input_shapes]
  calibration = [draw() for _ in range(num_samples)]
  held = [draw() for _ in range(num_held_back(num_samples))]
  return Samples(calibration, held, "seeded random inputs in [-1, 1] (asked for by --random_calibration)")


def _whole_photo_samples(info: ModelInfo, photos: list[Photo], num_samples: int, source: str) -> Samples:
  if info.image is None or len(info.input_shapes) != 1:
    raise UserError(f"{source}/{info.name}: input is not an image, so photos can't calibrate it; "
                    f"pass --random_calibration={info.name} to use seeded random inputs")
  used, held, held_note = split_photos(photos)
  def sample(photo_list, index):
    photo = photo_list[index % len(photo_list)]
    return [info.image.normalize(_photo_variant(photo.pixels, index, info.image))]
  calibration = [sample(used, i) for i in range(num_samples)]
  held_back = [sample(held, num_samples + i) for i in range(num_held_back(num_samples))]
  return Samples(calibration, held_back, f"whole photos letterboxed to the input size; {held_note}")


def _photo_variant(pixels: np.ndarray, index: int, target: image_input.ImageInput) -> np.ndarray:
  """Sample 0 of a photo is the whole photo letterboxed, as MediaPipe feeds it; others frame a
  random window of 60 to 100% of each side, letterboxed the same way (other framings, no
  borders that a camera never makes)."""
  if index == 0:
    return image_input.letterbox(pixels, target.width, target.height)
  rng = np.random.default_rng([SEED, index])
  h, w = pixels.shape[:2]
  win_h, win_w = int(h * rng.uniform(0.6, 1.0)), int(w * rng.uniform(0.6, 1.0))
  top, left = int(rng.integers(0, h - win_h + 1)), int(rng.integers(0, w - win_w + 1))
  return image_input.letterbox(pixels[top:top + win_h, left:left + win_w], target.width, target.height)


@dataclasses.dataclass(frozen=True)
class _Crop:
  pixels: np.ndarray
  center: tuple[float, float]
  side: float
  angle: float

  def to_image(self, points: np.ndarray, size: int) -> np.ndarray:
    """Crop-pixel (x, y) points of a size x size model input -> image pixels."""
    u = points[:, 0] / size * self.side - self.side / 2
    v = points[:, 1] / size * self.side - self.side / 2
    cos, sin = math.cos(self.angle), math.sin(self.angle)
    return np.stack([self.center[0] + cos * u - sin * v, self.center[1] + sin * u + cos * v], 1)


def landmark_crop(kind: landmarkers.Kind, pixels: np.ndarray, landmarks: np.ndarray, size: int,
                  jitter: np.random.Generator | None) -> _Crop:
  """The rotated square crop MediaPipe gives the landmarks model, around normalised `landmarks`."""
  h, w = pixels.shape[:2]
  xy = landmarks[:, :2] * np.float32([w, h])
  start, end = kind.axis_points
  axis = xy[end] - xy[start]
  angle = math.atan2(float(axis[1]), float(axis[0])) - kind.axis_angle
  cos, sin = math.cos(angle), math.sin(angle)
  framed = xy if kind.crop_points is None else xy[list(kind.crop_points)]
  if kind.box_in_crop_frame:
    framed = framed @ np.float32([[cos, -sin], [sin, cos]])  # (x, y) -> the crop's rotated axes
  low, high = framed.min(0), framed.max(0)
  box = float((high - low).max())
  middle = (low + high) / 2
  if kind.box_in_crop_frame:
    middle = np.float32([cos * middle[0] - sin * middle[1], sin * middle[0] + cos * middle[1]])
  center = middle + kind.crop_shift * box * np.float32([-sin, cos])
  side = box * kind.crop_scale
  center, side, angle = _jittered(center, side, angle, jitter)
  return _Crop(image_input.crop(pixels, center, side, angle, size, size), center, side, angle)


def detector_crop(roi: detector_roi.Roi, pixels: np.ndarray, size: int,
                  jitter: np.random.Generator | None) -> _Crop:
  """The crop MediaPipe gives the landmarks model for a detector-framed region (a pose): its
  pixel convention, edge pixels repeated beyond the photo."""
  center, side, angle = _jittered(np.float32(roi.center), roi.side, roi.angle, jitter)
  pixels = image_input.crop_as_mediapipe(pixels, center, side, angle, size, replicate_border=True)
  return _Crop(pixels, center, side, angle)


def _jittered(center: np.ndarray, side: float, angle: float, jitter: np.random.Generator | None):
  """Other framings than the exact one, for calibration samples after the first: moved by up to
  6% of the side, scaled by 0.92 to 1.1, turned by up to 0.12 rad."""
  if jitter is not None:
    center = center + jitter.uniform(-0.06, 0.06, 2) * side
    side *= jitter.uniform(0.92, 1.1)
    angle += jitter.uniform(-0.12, 0.12)
  return (float(center[0]), float(center[1])), float(side), float(angle)


def _cascade_samples(kind: landmarkers.Kind, models: dict[str, ModelInfo], needs: set[str],
                     float_bundle: bytes, photos: list[Photo], num_samples: int,
                     source: str) -> dict[str, Samples]:
  """The detector sees whole photos; the landmarks model crops around the float bundle's own
  landmarks (found by MediaPipe), or for a pose the crops its float detector frames; a face's
  blendshapes model 146 of the landmarks it gives."""
  found_by_photo = []
  framing = kind.detector_framing
  if framing is not None:
    detector = runner.Model(models[kind.detector].float_model)
    for photo in photos:
      detections = detector_roi.detect(framing, detector, models[kind.detector].image, photo.pixels,
                                       max_count=4)
      found_by_photo.append([detector_roi.roi(framing, d) for d in detections])
  else:
    with landmarker_runtime.Landmarker(kind, float_bundle) as landmarker:
      for photo in photos:
        found_by_photo.append([d.landmarks for d in landmarker.detect(photo.pixels)])
  if not any(found_by_photo):
    raise UserError(f"{source}: the float {kind.noun} landmarker finds no {kind.noun} in any "
                    f"calibration photo; its landmarks model needs photos with {kind.noun}s")
  used, held, held_note = split_photos(photos)
  found = {p.name: f for p, f in zip(photos, found_by_photo)}
  used_found = [(p, f) for p in used for f in found[p.name]] or [(p, f) for p in held for f in found[p.name]]
  held_found = [(p, f) for p in held for f in found[p.name]] or used_found
  landmarks_info = models[kind.landmarks]
  landmarks_model = runner.Model(landmarks_info.float_model)
  size = landmarks_info.image.width

  def cascade(found_list, index):
    photo, found = found_list[index % len(found_list)]
    jitter = None if index == 0 else np.random.default_rng([SEED, 1, index])
    if framing is not None:
      crop = detector_crop(found, photo.pixels, size, jitter)
    else:
      crop = landmark_crop(kind, photo.pixels, found, size, jitter)
    crop_input = landmarks_info.image.normalize(crop.pixels)
    points = None
    if kind.blendshapes in needs:
      crop_points = landmarks_model(crop_input)[0].reshape(-1, 3)
      image_points = crop.to_image(crop_points, size)[list(landmarkers.BLENDSHAPE_LANDMARKS)]
      points = image_points[np.newaxis].astype(np.float32)
    return crop_input, points, crop.side / size

  n_held = num_held_back(num_samples)
  calibration = [cascade(used_found, i) for i in range(num_samples)]
  held_back = [cascade(held_found, num_samples + i) for i in range(n_held)]
  out = {}
  if kind.landmarks in needs:
    out[kind.landmarks] = Samples([[c[0]] for c in calibration], [[c[0]] for c in held_back],
                                  f"{kind.noun} crops " + ("framed by the float detector"
                                  if framing is not None else "around the float pipeline's landmarks")
                                  + f"; {held_note}",
                                  [c[2] for c in held_back], values_per_landmark=kind.values_per_landmark)
  if kind.blendshapes in needs:
    out[kind.blendshapes] = Samples([[c[1]] for c in calibration], [[c[1]] for c in held_back],
                                    f"146 landmarks (image px) of the float landmarks model; {held_note}")
  if kind.detector in needs:
    out[kind.detector] = _whole_photo_samples(models[kind.detector], photos, num_samples, source)
    out[kind.detector].clamps = kind.detector_clamps
    out[kind.detector].correct_biases = kind.detector_bias_correction
  return out
