"""bundle.py: entries stored, aligned, ordered, with fixed times; bad names refused."""

import io
import zipfile

import pytest

from mediapipe_int8 import bundle
from mediapipe_int8.errors import UserError

ENTRIES = [bundle.Entry("b.tflite", b"\x01" * 1001), bundle.Entry("a.binarypb", b"xyz"),
           bundle.Entry("nested/c.tflite", b"\x02" * 7)]


def test_entries_are_stored_aligned_in_order_with_fixed_times():
  data = bundle.write_entries(ENTRIES)
  with zipfile.ZipFile(io.BytesIO(data)) as archive:
    infos = archive.infolist()
    assert [i.filename for i in infos] == [e.name for e in ENTRIES]
    assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
    assert [archive.read(i) for i in infos] == [e.data for e in ENTRIES]
  offsets = bundle.data_offsets(data)
  assert all(offset % bundle.ALIGNMENT == 0 for offset in offsets.values()), offsets
  for entry in ENTRIES:
    assert data[offsets[entry.name]:offsets[entry.name] + len(entry.data)] == entry.data


def test_same_entries_give_same_bytes_and_round_trip():
  first = bundle.write_entries(ENTRIES)
  assert bundle.write_entries(list(ENTRIES)) == first
  assert bundle.read_entries(first, "x.task") == ENTRIES


@pytest.mark.parametrize("name, problem", [("../evil.tflite", "'..'"), ("a/../../b", "'..'"),
                                           ("/etc/passwd", "absolute"), ("C:/x.tflite", "absolute")])
def test_unsafe_entry_names_are_refused(name, problem):
  out = io.BytesIO()
  with zipfile.ZipFile(out, "w") as archive:
    archive.writestr(name, b"data")
  with pytest.raises(UserError, match=problem) as error:
    bundle.read_entries(out.getvalue(), "bad.task")
  assert str(error.value).startswith("bad.task: ")


def test_not_a_zip_is_refused():
  with pytest.raises(UserError, match="bad.task: not a zip archive"):
    bundle.read_entries(b"PK\x03\x04 but then nothing", "bad.task")


def test_atomic_write_leaves_no_temporary_file(tmp_path):
  target = tmp_path / "out.task"
  bundle.write_file_atomically(str(target), b"abc")
  assert target.read_bytes() == b"abc"
  assert [p.name for p in tmp_path.iterdir()] == ["out.task"]
