"""Runs a face landmarker bundle in MediaPipe's own runtime (Tasks API, CPU, IMAGE mode)."""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Face:
  landmarks: np.ndarray  # 478 x 3, x and y normalised to the image, as MediaPipe returns them
  blendshapes: np.ndarray | None  # 52 scores, when the bundle has the blendshapes model


class FaceLandmarker:
  """MediaPipe's FaceLandmarker over a bundle given as bytes."""

  def __init__(self, bundle: bytes, num_faces: int = 4, blendshapes: bool = False):
    from mediapipe.tasks.python import vision  # heavy import: only where a bundle is run
    from mediapipe.tasks.python.core import base_options

    options = vision.FaceLandmarkerOptions(
        base_options=base_options.BaseOptions(model_asset_buffer=bytes(bundle)),
        running_mode=vision.RunningMode.IMAGE,
        num_faces=num_faces,
        output_face_blendshapes=blendshapes)
    self._landmarker = vision.FaceLandmarker.create_from_options(options)

  def detect(self, pixels: np.ndarray) -> list[Face]:
    import mediapipe as mp

    image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(pixels))
    result = self._landmarker.detect(image)
    faces = []
    for i, landmarks in enumerate(result.face_landmarks):
      points = np.array([[p.x, p.y, p.z] for p in landmarks], np.float32)
      scores = None
      if result.face_blendshapes:
        scores = np.array([c.score for c in result.face_blendshapes[i]], np.float32)
      faces.append(Face(points, scores))
    return sorted(faces, key=lambda f: (float(f.landmarks[:, 0].mean()), float(f.landmarks[:, 1].mean())))

  def close(self) -> None:
    self._landmarker.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()
