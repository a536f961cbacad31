"""tools/fetch_inputs.py: the registry inputs, here the hand photos inside a Debian package's Qt
resource file, come out with the listed bytes, and a wrong sha256 writes nothing."""

import hashlib
import importlib.util

import pytest
from PIL import Image

from conftest import ROOT

_spec = importlib.util.spec_from_file_location("fetch_inputs", ROOT / "tools" / "fetch_inputs.py")
fetch_inputs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fetch_inputs)


def _rows(role):
  return [r for r in fetch_inputs.read_manifest() if r["role"] == role]


def test_hand_photos_come_out_of_the_qt_resource_file_of_a_debian_package(tmp_path):
  rows = _rows("hand_calibration")
  assert len(rows) == 8 and all(r["client"] == "apt" and "!" in r["member"] for r in rows)
  fetch_inputs.fetch(rows, tmp_path)
  for row in rows:
    path = tmp_path / "hand_calibration" / row["file"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == row["sha256"]
    with Image.open(path) as image:
      assert image.format == "WEBP" and min(image.size) >= 200
  assert not list(tmp_path.rglob("*.part"))


def test_a_wrong_sha256_names_the_file_and_writes_nothing(tmp_path):
  row = dict(_rows("hand_heldout")[0], sha256="0" * 64)
  with pytest.raises(RuntimeError, match=rf"^{row['file']}: sha256 [0-9a-f]{{64}} from opencv-doc"):
    fetch_inputs.fetch([row], tmp_path)
  assert not list(tmp_path.rglob("*.*"))


def test_training_faces_are_many_and_none_is_held_out():
  """Learned int8 trains on face_training: the calibration photos and many more people's, and not
  one of the photos that judge accuracy (the held-out people stay apart)."""
  training = _rows("face_training")
  digests = {r["sha256"] for r in training}
  assert len(training) >= 40
  assert {r["sha256"] for r in _rows("calibration")} <= digests
  assert not {r["sha256"] for r in _rows("heldout")} & digests
  assert len({r["file"] for r in training}) == len(training)
