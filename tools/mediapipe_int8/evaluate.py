"""End-to-end accuracy of a face landmarker bundle against the float one, in MediaPipe's runtime.

The unit is NME: mean landmark distance divided by the distance between the outer eye corners
(landmarks 33 and 263), which compares across photo sizes. The floor that "same answers as float"
is held to is float against itself when the photo moves by one pixel.
"""

import dataclasses

import numpy as np

from mediapipe_int8 import face_runtime
from mediapipe_int8.photos import Photo

LEFT_EYE_OUTER, RIGHT_EYE_OUTER = 33, 263


@dataclasses.dataclass
class FaceError:
  photo: str
  nme: float  # mean landmark error / outer-eye distance
  mean_px: float
  max_px: float
  blendshape_max: float | None


@dataclasses.dataclass
class Comparison:
  faces: list[FaceError]
  reference_faces: int
  lost_faces: int  # faces the reference finds and the candidate does not

  @property
  def mean_nme(self) -> float:
    return float(np.mean([f.nme for f in self.faces])) if self.faces else float("nan")

  @property
  def mean_px(self) -> float:
    return float(np.mean([f.mean_px for f in self.faces])) if self.faces else float("nan")

  @property
  def max_px(self) -> float:
    return float(max(f.max_px for f in self.faces)) if self.faces else float("nan")

  @property
  def blendshape_max(self) -> float | None:
    values = [f.blendshape_max for f in self.faces if f.blendshape_max is not None]
    return float(max(values)) if values else None

  def as_dict(self) -> dict:
    return {"mean_nme": self.mean_nme, "mean_px": self.mean_px, "max_px": self.max_px,
            "blendshape_max_abs": self.blendshape_max, "faces": self.reference_faces,
            "lost_faces": self.lost_faces}


def shifted(pixels: np.ndarray, dx: int, dy: int) -> np.ndarray:
  """The photo moved by (dx, dy) pixels, edge pixels repeated: a one-pixel camera shake."""
  h, w = pixels.shape[:2]
  padded = np.pad(pixels, ((max(dy, 0), max(-dy, 0)), (max(dx, 0), max(-dx, 0)), (0, 0)), mode="edge")
  top, left = max(-dy, 0), max(-dx, 0)
  return np.ascontiguousarray(padded[top:top + h, left:left + w])


def views(photo: Photo, grid: int = 3) -> list[Photo]:
  """The photo and grid x grid overlapping windows of half its size: faces too small for the
  short-range detector in a group photo become visible in some window."""
  h, w = photo.pixels.shape[:2]
  out = [photo]
  win_h, win_w = h // 2, w // 2
  for row in range(grid):
    for col in range(grid):
      top, left = row * (h - win_h) // (grid - 1), col * (w - win_w) // (grid - 1)
      out.append(Photo(f"{photo.name}[{row},{col}]",
                       np.ascontiguousarray(photo.pixels[top:top + win_h, left:left + win_w])))
  return out


def detect_all(bundle: bytes, photos: list[Photo], blendshapes: bool, shift=(0, 0)):
  with face_runtime.FaceLandmarker(bundle, blendshapes=blendshapes) as landmarker:
    return [landmarker.detect(shifted(p.pixels, *shift) if shift != (0, 0) else p.pixels) for p in photos]


def compare(reference, candidate, photos: list[Photo], shift=(0, 0)) -> Comparison:
  """Matches each reference face to the candidate's nearest face; shift undoes a photo move."""
  errors, total, lost = [], 0, 0
  for photo, ref_faces, cand_faces in zip(photos, reference, candidate, strict=True):
    h, w = photo.pixels.shape[:2]
    scale = np.float32([w, h])
    for ref in ref_faces:
      total += 1
      ref_xy = ref.landmarks[:, :2] * scale
      eye = float(np.linalg.norm(ref_xy[RIGHT_EYE_OUTER] - ref_xy[LEFT_EYE_OUTER]))
      best = None
      for cand in cand_faces:
        cand_xy = cand.landmarks[:, :2] * scale - np.float32(shift)
        distances = np.linalg.norm(cand_xy - ref_xy, axis=1)
        if best is None or distances.mean() < best[0].mean():
          best = (distances, cand)
      if best is None or best[0].mean() > eye:  # no candidate face near this one
        lost += 1
        continue
      distances, cand = best
      blend = None
      if ref.blendshapes is not None and cand.blendshapes is not None:
        blend = float(np.abs(ref.blendshapes - cand.blendshapes).max())
      errors.append(FaceError(photo.name, float(distances.mean()) / eye, float(distances.mean()),
                              float(distances.max()), blend))
  return Comparison(errors, total, lost)


def float_jitter(bundle: bytes, photos: list[Photo], reference, blendshapes: bool) -> Comparison:
  """Float against itself when the photo moves one pixel right and one down (the floor);
  `reference` is detect_all(bundle, photos, blendshapes) on the unmoved photos."""
  moved = detect_all(bundle, photos, blendshapes, shift=(1, 1))
  return compare(reference, moved, photos, shift=(1, 1))
