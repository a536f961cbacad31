"""End-to-end accuracy of a face, hand or pose landmarker bundle against the float one, in MediaPipe's runtime.

The unit is NME: mean landmark distance divided by a distance that scales with the face, hand or
body (the outer eye corners, landmarks 33 and 263; the wrist to the middle-finger knuckle, 0 and 9;
the shoulders' midpoint to the hips' midpoint, 11/12 and 23/24), which compares across photo sizes. The floor that "same answers as float" is held to is float
against itself when the photo moves by one pixel.
"""

import dataclasses

import numpy as np

from mediapipe_int8 import landmarker_runtime
from mediapipe_int8.landmarkers import Kind
from mediapipe_int8.photos import Photo


@dataclasses.dataclass
class DetectionError:
  """One face or hand that both bundles find."""
  photo: str
  nme: float  # mean landmark error / the kind's scale distance
  mean_px: float
  max_px: float
  blendshape_max: float | None


@dataclasses.dataclass
class Comparison:
  found: list[DetectionError]
  reference_count: int  # faces or hands the reference finds
  lost: int  # of those, the ones the candidate does not find

  @property
  def mean_nme(self) -> float:
    return float(np.mean([f.nme for f in self.found])) if self.found else float("nan")

  @property
  def mean_px(self) -> float:
    return float(np.mean([f.mean_px for f in self.found])) if self.found else float("nan")

  @property
  def max_px(self) -> float:
    return float(max(f.max_px for f in self.found)) if self.found else float("nan")

  @property
  def blendshape_max(self) -> float | None:
    values = [f.blendshape_max for f in self.found if f.blendshape_max is not None]
    return float(max(values)) if values else None

  def as_dict(self) -> dict:
    return {"mean_nme": self.mean_nme, "mean_px": self.mean_px, "max_px": self.max_px,
            "blendshape_max_abs": self.blendshape_max, "found": self.reference_count,
            "lost": self.lost}


def shifted(pixels: np.ndarray, dx: int, dy: int) -> np.ndarray:
  """The photo moved by (dx, dy) pixels, edge pixels repeated: a one-pixel camera shake."""
  h, w = pixels.shape[:2]
  padded = np.pad(pixels, ((max(dy, 0), max(-dy, 0)), (max(dx, 0), max(-dx, 0)), (0, 0)), mode="edge")
  top, left = max(-dy, 0), max(-dx, 0)
  return np.ascontiguousarray(padded[top:top + h, left:left + w])


def views(photo: Photo, grid: int = 3) -> list[Photo]:
  """The photo and grid x grid overlapping windows of half its size: faces too small for the
  short-range detector in a group photo become visible in some window, hands appear cut and
  larger."""
  h, w = photo.pixels.shape[:2]
  out = [photo]
  win_h, win_w = h // 2, w // 2
  for row in range(grid):
    for col in range(grid):
      top, left = row * (h - win_h) // (grid - 1), col * (w - win_w) // (grid - 1)
      out.append(Photo(f"{photo.name}[{row},{col}]",
                       np.ascontiguousarray(photo.pixels[top:top + win_h, left:left + win_w])))
  return out


def detect_all(kind: Kind, bundle: bytes, photos: list[Photo], blendshapes: bool, shift=(0, 0)):
  with landmarker_runtime.Landmarker(kind, bundle, blendshapes=blendshapes) as landmarker:
    return [landmarker.detect(shifted(p.pixels, *shift) if shift != (0, 0) else p.pixels) for p in photos]


def compare(kind: Kind, reference, candidate, photos: list[Photo], shift=(0, 0)) -> Comparison:
  """Matches each reference face or hand to the candidate's nearest one; shift undoes a photo move."""
  errors, total, lost = [], 0, 0
  a, b = kind.scale_points
  for photo, ref_found, cand_found in zip(photos, reference, candidate, strict=True):
    h, w = photo.pixels.shape[:2]
    scale = np.float32([w, h])
    for ref in ref_found:
      total += 1
      ref_xy = ref.landmarks[:, :2] * scale
      unit = float(np.linalg.norm(ref_xy[list(b)].mean(0) - ref_xy[list(a)].mean(0)))
      best = None
      for cand in cand_found:
        cand_xy = cand.landmarks[:, :2] * scale - np.float32(shift)
        distances = np.linalg.norm(cand_xy - ref_xy, axis=1)
        if best is None or distances.mean() < best[0].mean():
          best = (distances, cand)
      if best is None or best[0].mean() > unit:  # no candidate near this one
        lost += 1
        continue
      distances, cand = best
      blend = None
      if ref.blendshapes is not None and cand.blendshapes is not None:
        blend = float(np.abs(ref.blendshapes - cand.blendshapes).max())
      errors.append(DetectionError(photo.name, float(distances.mean()) / unit, float(distances.mean()),
                              float(distances.max()), blend))
  return Comparison(errors, total, lost)


def float_jitter(kind: Kind, bundle: bytes, photos: list[Photo], reference,
                 blendshapes: bool) -> Comparison:
  """Float against itself when the photo moves one pixel right and one down (the floor);
  `reference` is detect_all(kind, bundle, photos, blendshapes) on the unmoved photos."""
  moved = detect_all(kind, bundle, photos, blendshapes, shift=(1, 1))
  return compare(kind, reference, moved, photos, shift=(1, 1))
