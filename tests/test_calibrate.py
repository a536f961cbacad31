"""calibrate: which photos calibrate and which judge, seeded samples, and MediaPipe's crop framing."""

import math

import numpy as np
import pytest

import synthetic
from mediapipe_int8 import calibrate, landmarkers, pipeline, prepare, tflite_file
from mediapipe_int8.errors import UserError
from mediapipe_int8.photos import Photo


def _info(name="a.tflite", size=32) -> calibrate.ModelInfo:
  data = synthetic.image_model(size=size)
  return pipeline.model_info(name, prepare.prepare(tflite_file.parse(data, name)))


def _photos(n: int) -> list[Photo]:
  rng = np.random.default_rng(0)
  return [Photo(f"p{i}.png", rng.integers(0, 256, (48 + i, 64, 3), dtype=np.uint8)) for i in range(n)]


def test_a_quarter_is_held_back_and_never_fewer_than_four():
  assert [calibrate.num_held_back(n) for n in (1, 16, 32, 100)] == [4, 4, 8, 25]


def test_every_fourth_photo_judges_and_never_calibrates():
  used, held, note = calibrate.split_photos(_photos(8))
  assert [p.name for p in held] == ["p3.png", "p7.png"]
  assert not {p.name for p in used} & {p.name for p in held}
  assert "p3.png, p7.png" in note
  used, held, _ = calibrate.split_photos(_photos(1))  # one photo: variants of it judge
  assert used == held


def test_random_samples_are_seeded_per_model():
  infos = {"a.tflite": _info("a.tflite"), "b.tflite": _info("b.tflite")}
  first = calibrate.make_samples(infos, set(infos), None, [], 8, set(infos), "x.task")
  again = calibrate.make_samples(infos, set(infos), None, [], 8, set(infos), "x.task")
  a, b = first["a.tflite"], first["b.tflite"]
  assert len(a.calibration) == 8 and len(a.held_back) == 4
  assert all(np.array_equal(x[0], y[0]) for x, y in zip(a.calibration, again["a.tflite"].calibration))
  assert not np.array_equal(a.calibration[0][0], b.calibration[0][0])  # another model, other draws
  assert a.calibration[0][0].min() >= -1.0 and a.calibration[0][0].max() <= 1.0


def test_a_model_without_photos_or_random_inputs_is_refused():
  with pytest.raises(UserError, match="x.task: a.tflite needs calibration photos"):
    calibrate.make_samples({"a.tflite": _info()}, {"a.tflite"}, None, [], 8, set(), "x.task")


def test_whole_photos_fill_the_input_and_held_back_photos_stay_apart():
  samples = calibrate.make_samples({"a.tflite": _info(size=32)}, {"a.tflite"}, None, _photos(4), 6,
                                   set(), "x.task")["a.tflite"]
  assert len(samples.calibration) == 6 and len(samples.held_back) == 4
  assert samples.calibration[0][0].shape == (1, 32, 32, 3)
  assert "held-back photos: p3.png" in samples.source
  # Sample 0 of a photo is the whole photo; the others are windows of it: all differ.
  assert len({s[0].tobytes() for s in samples.calibration}) == 6


def test_a_face_crop_is_square_around_the_landmarks_and_level_with_the_eyes():
  face = landmarkers.FACE
  rng = np.random.default_rng(3)
  h, w = 400, 600
  points = np.zeros((face.num_landmarks, 3), np.float32)
  points[:, 0] = rng.uniform(200, 300, face.num_landmarks) / w  # a box of 100 x 80 px
  points[:, 1] = rng.uniform(150, 230, face.num_landmarks) / h
  points[[33, 263], 0] = [210 / w, 290 / w]  # outer eye corners, left to right in the image
  points[[33, 263], 1] = 190 / h  # eyes level: no rotation
  pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
  crop = calibrate.landmark_crop(face, pixels, points, 256, None)
  box = points[:, :2] * [w, h]
  assert crop.side == pytest.approx(face.crop_scale * float((box.max(0) - box.min(0)).max()))
  assert crop.center == pytest.approx(tuple((box.max(0) + box.min(0)) / 2))
  assert crop.angle == pytest.approx(0.0, abs=1e-6)
  assert crop.pixels.shape[:2] == (256, 256)
  # The crop's corners map back to the square around the center.
  corners = crop.to_image(np.float32([[0, 0], [256, 256]]), 256)
  assert corners == pytest.approx(np.float32([np.subtract(crop.center, crop.side / 2),
                                              np.add(crop.center, crop.side / 2)]), abs=1e-3)


def test_a_tilted_face_gives_a_crop_turned_with_it():
  face = landmarkers.FACE
  points = np.full((face.num_landmarks, 3), 0.5, np.float32)
  points[33, :2] = [0.4, 0.4]
  points[263, :2] = [0.6, 0.6]  # eyes on a 45 degree line (square image)
  crop = calibrate.landmark_crop(face, np.zeros((100, 100, 3), np.uint8), points, 64, None)
  assert crop.angle == pytest.approx(math.pi / 4)
