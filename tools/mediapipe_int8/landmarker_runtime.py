"""Runs a face, hand or pose landmarker bundle in MediaPipe's own runtime (Tasks API, CPU, IMAGE mode)."""

import dataclasses

import numpy as np

from mediapipe_int8.landmarkers import Kind


@dataclasses.dataclass(frozen=True)
class Detection:
  landmarks: np.ndarray  # N x 3, x and y normalised to the image, as MediaPipe returns them
  blendshapes: np.ndarray | None  # 52 scores, when a face bundle has the blendshapes model


class Landmarker:
  """MediaPipe's FaceLandmarker, HandLandmarker or PoseLandmarker (as `kind` says) over a bundle
  given as bytes."""

  def __init__(self, kind: Kind, bundle: bytes, max_count: int = 4, blendshapes: bool = False):
    from mediapipe.tasks.python import vision  # heavy import: only where a bundle is run
    from mediapipe.tasks.python.core import base_options

    base = base_options.BaseOptions(model_asset_buffer=bytes(bundle))
    mode = vision.RunningMode.IMAGE
    if kind.noun == "hand":
      options = vision.HandLandmarkerOptions(base_options=base, running_mode=mode, num_hands=max_count)
      self._landmarker = vision.HandLandmarker.create_from_options(options)
    elif kind.noun == "pose":
      options = vision.PoseLandmarkerOptions(base_options=base, running_mode=mode, num_poses=max_count)
      self._landmarker = vision.PoseLandmarker.create_from_options(options)
    else:
      options = vision.FaceLandmarkerOptions(base_options=base, running_mode=mode, num_faces=max_count,
                                             output_face_blendshapes=blendshapes)
      self._landmarker = vision.FaceLandmarker.create_from_options(options)
    self._kind = kind

  def detect(self, pixels: np.ndarray) -> list[Detection]:
    """What MediaPipe finds, ordered by position (left to right) so that runs compare."""
    import mediapipe as mp

    image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(pixels))
    result = self._landmarker.detect(image)
    found = getattr(result, f"{self._kind.noun}_landmarks")
    blendshapes = getattr(result, "face_blendshapes", None)
    out = []
    for i, landmarks in enumerate(found):
      points = np.array([[p.x, p.y, p.z] for p in landmarks], np.float32)
      scores = np.array([c.score for c in blendshapes[i]], np.float32) if blendshapes else None
      out.append(Detection(points, scores))
    return sorted(out, key=lambda d: (float(d.landmarks[:, 0].mean()), float(d.landmarks[:, 1].mean())))

  def close(self) -> None:
    self._landmarker.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()
