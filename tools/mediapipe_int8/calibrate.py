"""Photos -> input samples for each model of a bundle, calibration and held-back sets.

Each model is fed what it sees in its pipeline. A face landmarker bundle is a
cascade: the detector sees the whole photo, the landmarks model a rotated
face crop, the blendshapes model 146 landmarks in image pixels. Crops come
from the float bundle itself, run in MediaPipe's runtime. A model of an
unknown bundle with an image input gets the whole photo letterboxed to its
input size, normalised as its metadata says. Random inputs only where the
user names the model in --random_calibration.

Every sample is a function of (photo order, sample index, fixed seed): the
same photos give the same samples on every run and machine.
"""

import dataclasses
import math
import zlib

import numpy as np

from mediapipe_int8 import face_runtime, image_input, runner
from mediapipe_int8.errors import UserError
from mediapipe_int8.photos import Photo

SEED = 20261127
FACE_DETECTOR = "face_detector.tflite"
FACE_LANDMARKS = "face_landmarks_detector.tflite"
FACE_BLENDSHAPES = "face_blendshapes.tflite"
# MediaPipe's face_blendshapes_graph: the 146 of the 478 landmarks the blendshapes model reads.
BLENDSHAPE_LANDMARKS = (
    0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63,
    65, 66, 67, 70, 78, 80, 81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133,
    136, 144, 145, 146, 148, 149, 150, 152, 153, 154, 155, 157, 158, 159, 160, 161, 162, 163,
    168, 172, 173, 176, 178, 181, 185, 191, 195, 197, 234, 246, 249, 251, 263, 267, 269, 270,
    276, 282, 283, 284, 285, 288, 291, 293, 295, 296, 297, 300, 308, 310, 311, 312, 314, 317,
    318, 321, 323, 324, 332, 334, 336, 338, 356, 361, 362, 365, 373, 374, 375, 377, 378, 379,
    380, 381, 382, 384, 385, 386, 387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415, 454,
    466, 468, 469, 470, 471, 472, 473, 474, 475, 476, 477)
LEFT_EYE_OUTER, RIGHT_EYE_OUTER = 33, 263
# Detector output ranges that cost MediaPipe nothing: it reads score logits through a sigmoid with a
# 0.5 threshold (beyond +-20 the score is within 2e-9 of 0 or 1), and box and keypoint offsets of
# real faces stay within 128 px of the 128 px input (measured max 127.9 on 40 photos), so 160 leaves
# a margin. Without clamps, background anchors stretch the ranges to -27,000 and every face score
# rounds to 0 in int8; +-100 still lost a face that +-20 keeps.
DETECTOR_CLAMPS = {"classificators": (-20.0, 20.0), "regressors": (-160.0, 160.0)}
# Face crop side relative to the landmarks' bounding box: this matches MediaPipe's own crop
# (measured on the astronaut: at 1.4 the float landmarks model reproduces MediaPipe's landmarks
# within 0.30 px mean; 1.3: 0.34, 1.5: 0.35, 1.2: 0.66, 1.7: 0.50).
CROP_SCALE = 1.4


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


@dataclasses.dataclass(frozen=True)
class ModelInfo:
  """What calibration needs to know of a prepared float model."""
  name: str
  float_model: bytes
  input_shapes: list[tuple[int, ...]]
  image: image_input.ImageInput | None


def num_held_back(num_calibration: int) -> int:
  return max(4, num_calibration // 4)


def is_face_landmarker(names) -> bool:
  return FACE_DETECTOR in names and FACE_LANDMARKS in names


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
  if not photos:
    raise UserError(f"{source}: {', '.join(sorted(rest))} needs calibration photos: "
                    "pass --calibration_dir (or --random_calibration=NAME to use random inputs)")
  if float_bundle is not None and is_face_landmarker(models):
    out.update(_face_landmarker_samples(models, rest, float_bundle, photos, num_samples, source))
    rest -= out.keys()
  for name in sorted(rest):
    if name in optional and models[name].image is None:
      continue
    out[name] = _whole_photo_samples(models[name], photos, num_samples, source)
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
class _FaceCrop:
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


def face_crop(pixels: np.ndarray, landmarks: np.ndarray, size: int, jitter: np.random.Generator | None):
  """The rotated square crop MediaPipe gives the landmarks model, around normalised `landmarks`."""
  h, w = pixels.shape[:2]
  xy = landmarks[:, :2] * np.float32([w, h])
  low, high = xy.min(0), xy.max(0)
  center = (low + high) / 2
  side = float((high - low).max()) * CROP_SCALE
  eye_line = xy[RIGHT_EYE_OUTER] - xy[LEFT_EYE_OUTER]
  angle = math.atan2(float(eye_line[1]), float(eye_line[0]))
  if jitter is not None:
    center = center + jitter.uniform(-0.06, 0.06, 2) * side
    side *= jitter.uniform(0.92, 1.1)
    angle += jitter.uniform(-0.12, 0.12)
  center = (float(center[0]), float(center[1]))
  return _FaceCrop(image_input.crop(pixels, center, side, angle, size, size), center, side, angle)


def _face_landmarker_samples(models: dict[str, ModelInfo], needs: set[str], float_bundle: bytes,
                             photos: list[Photo], num_samples: int, source: str) -> dict[str, Samples]:
  faces_by_photo = []
  with face_runtime.FaceLandmarker(float_bundle) as landmarker:
    for photo in photos:
      faces_by_photo.append([f.landmarks for f in landmarker.detect(photo.pixels)])
  if not any(faces_by_photo):
    raise UserError(f"{source}: the float face landmarker finds no face in any calibration photo; "
                    "the landmarks and blendshapes models need photos with faces")
  used, held, held_note = split_photos(photos)
  faces = {p.name: f for p, f in zip(photos, faces_by_photo)}
  used_faces = [(p, f) for p in used for f in faces[p.name]] or [(p, f) for p in held for f in faces[p.name]]
  held_faces = [(p, f) for p in held for f in faces[p.name]] or used_faces
  landmarks_model_info = models[FACE_LANDMARKS]
  landmarks_model = runner.Model(landmarks_model_info.float_model)
  size = landmarks_model_info.image.width

  def cascade(face_list, index):
    photo, landmarks = face_list[index % len(face_list)]
    jitter = None if index == 0 else np.random.default_rng([SEED, 1, index])
    crop = face_crop(photo.pixels, landmarks, size, jitter)
    crop_input = landmarks_model_info.image.normalize(crop.pixels)
    points = landmarks_model(crop_input)[0].reshape(-1, 3)
    image_points = crop.to_image(points, size)[list(BLENDSHAPE_LANDMARKS)]
    return crop_input, image_points[np.newaxis].astype(np.float32), crop.side / size

  n_held = num_held_back(num_samples)
  calibration = [cascade(used_faces, i) for i in range(num_samples)]
  held_back = [cascade(held_faces, num_samples + i) for i in range(n_held)]
  out = {}
  if FACE_LANDMARKS in needs:
    out[FACE_LANDMARKS] = Samples([[c[0]] for c in calibration], [[c[0]] for c in held_back],
                                  f"face crops around the float pipeline's landmarks; {held_note}",
                                  [c[2] for c in held_back])
  if FACE_BLENDSHAPES in needs:
    out[FACE_BLENDSHAPES] = Samples([[c[1]] for c in calibration], [[c[1]] for c in held_back],
                                    f"146 landmarks (image px) of the float landmarks model; {held_note}")
  if FACE_DETECTOR in needs:
    out[FACE_DETECTOR] = _whole_photo_samples(models[FACE_DETECTOR], photos, num_samples, source)
    out[FACE_DETECTOR].clamps = DETECTOR_CLAMPS
  return out
