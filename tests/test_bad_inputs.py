"""Bad archives, photos, paths and flags: one `error:` line naming the file, exit 1, nothing written.

Most run the command line's main in this process (`run_main`); what only a real process shows
(absl's flag parsing, Ctrl-C, a FIFO that would block) runs the real command (`run_cli`).
"""

import json
import os
import signal
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

import synthetic
from conftest import ROOT, run_cli, run_main
from photos_fixture import write_astronaut


def _error_lines(lines):
  return [l for l in lines if l.startswith("error: ")]


def _refused(code, lines, expected, *absent):
  """Exit 1, the one error line as expected, no traceback, and none of `absent` (nor temporary
  files beside them) exists."""
  assert code == 1, lines
  assert _error_lines(lines) == [expected], lines
  assert not any("Traceback" in l for l in lines)
  for path in absent:
    assert not path.exists(), path
    assert not list(path.parent.glob(".tmp-*")), "a temporary file was left behind"


def _patched_zip(data: bytes, flag_bits: int = 0, method: int | None = None) -> bytes:
  """The zip with every entry's flag bits or'ed and compression method set, in both headers."""
  out = bytearray(data)
  for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
    start = 0
    while (start := out.find(signature, start)) >= 0:
      flags, = struct.unpack_from("<H", out, start + flags_at)
      struct.pack_into("<H", out, start + flags_at, flags | flag_bits)
      if method is not None:
        struct.pack_into("<H", out, start + flags_at + 2, method)
      start += 4
  return bytes(out)


@pytest.mark.parametrize("patch, message", [
    (dict(flag_bits=1), "entry 'a.tflite' is encrypted; bundles are never encrypted"),
    (dict(method=99), "entry 'a.tflite' uses zip compression method 99; only stored (and deflated) "
                      "entries can be read"),
])
def test_unreadable_archive_entry(tmp_path, capsys, patch, message):
  source = tmp_path / "z.task"
  source.write_bytes(_patched_zip(synthetic.bundle_of({"a.tflite": synthetic.image_model()},
                                                      data_entry=None), **patch))
  out = tmp_path / "out.task"
  code, lines = run_main(capsys, f"--input={source}", f"--output={out}", "--recipe=none")
  _refused(code, lines, f"error: {source}: {message}", out)


def _png_header_only(path, width, height):
  """A PNG that declares width x height but holds no pixels: a decompression bomb's header."""
  def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
  path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                                     0, 0, 0)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("size, message", [
    ((30000, 30000), "calibration photo has more than 64,000,000 pixels; scale it down"),
    ((9000, 9000), "calibration photo is 9000x9000 pixels, more than 64,000,000; scale it down"),
    ((1, 1), "calibration photo is 1x1 pixels; each side must be at least 16"),
    ((5000, 1), "calibration photo is 5000x1 pixels; each side must be at least 16"),
])
def test_photo_size(tmp_path, capsys, good_bundle, size, message):
  photos = tmp_path / "photos"
  write_astronaut(photos)
  photo = photos / "odd.png"
  if size[0] * size[1] > 1_000_000:
    _png_header_only(photo, *size)
  else:
    Image.fromarray(np.full((size[1], size[0], 3), 128, np.uint8)).save(photo)
  out = tmp_path / "out.task"
  code, lines = run_main(capsys, f"--input={good_bundle}", f"--output={out}", "--recipe=int8",
                         f"--calibration_dir={photos}")
  _refused(code, lines, f"error: {photo}: {message}", out)


def test_fifo_named_like_a_photo(tmp_path, good_bundle):
  photos = tmp_path / "photos"
  write_astronaut(photos)
  os.mkfifo(photos / "f.jpg")
  out = tmp_path / "out.task"
  process = run_cli(f"--input={good_bundle}", f"--output={out}", "--recipe=int8",
                    f"--calibration_dir={photos}", check=False)  # run_cli's timeout catches a hang
  _refused(process.returncode, process.stderr.splitlines(),
           f"error: {photos / 'f.jpg'}: calibration photo is not a regular file", out)


def test_output_folder_missing(tmp_path, capsys, good_bundle):
  out = tmp_path / "nowhere" / "out.task"
  code, lines = run_main(capsys, f"--input={good_bundle}", f"--output={out}", "--recipe=none")
  _refused(code, lines, f"error: {out}: --output folder {out.parent} does not exist", out)


def test_report_folder_missing_leaves_no_output(tmp_path, capsys, good_bundle):
  out, report = tmp_path / "out.task", tmp_path / "nowhere" / "r.json"
  code, lines = run_main(capsys, f"--input={good_bundle}", f"--output={out}", "--recipe=none",
                         f"--report={report}")
  _refused(code, lines, f"error: {report}: --report folder {report.parent} does not exist", out)


def test_report_unwritable_at_the_end_leaves_no_output(tmp_path, capsys, good_bundle):
  """The report's place goes bad during the run (a folder appears where the file goes): neither
  file is written."""
  out, report = tmp_path / "out.task", tmp_path / "r.json"
  from mediapipe_int8 import output_paths

  real_check = output_paths.check
  def check_then_break(*args):
    real_check(*args)
    report.mkdir()
  try:
    output_paths.check = check_then_break
    code, lines = run_main(capsys, f"--input={good_bundle}", f"--output={out}",
                           "--recipe=weight_only_int8", f"--report={report}")
  finally:
    output_paths.check = real_check
  _refused(code, lines, f"error: {report}: cannot be written (Is a directory); nothing written", out)
  assert not list(tmp_path.glob(".tmp-*"))


def test_report_is_the_output(tmp_path, capsys, good_bundle):
  out = tmp_path / "out.task"
  code, lines = run_main(capsys, f"--input={good_bundle}", f"--output={out}", "--recipe=none",
                         f"--report={out}")
  _refused(code, lines, f"error: {out}: --report is the same file as --output", out)


def test_output_is_the_input(tmp_path, capsys, good_bundle):
  before = good_bundle.read_bytes()
  code, lines = run_main(capsys, f"--input={good_bundle}", f"--output={good_bundle}", "--recipe=none")
  assert (code, _error_lines(lines)) == (
      1, [f"error: {good_bundle}: --output is the input file; write somewhere else"])
  assert good_bundle.read_bytes() == before


def test_exclude_every_model(tmp_path, capsys, good_bundle):
  out = tmp_path / "out.task"
  code, lines = run_main(capsys, f"--input={good_bundle}", f"--output={out}", "--recipe=none",
                         "--exclude=a.tflite")
  _refused(code, lines, f"error: {good_bundle}: --exclude leaves no model to quantize", out)


@pytest.mark.parametrize("flag, message", [
    ("--num_calibration_samples=99999999999", "error: flag --num_calibration_samples=99999999999: "
     "99999999999 is not an integer in the range [1, 10000] (--helpfull lists the flags)"),
    ("--num_calibration_samples=many", "error: flag --num_calibration_samples=many: invalid "
     "literal for int() with base 10: 'many' (--helpfull lists the flags)"),
    ("--no_such_flag=1", "error: Unknown command line flag 'no_such_flag' (--helpfull lists the flags)"),
])
def test_bad_flag_is_one_line(tmp_path, good_bundle, flag, message):
  out = tmp_path / "out.task"
  process = run_cli(f"--input={good_bundle}", f"--output={out}", flag, check=False)
  assert (process.returncode, process.stderr.splitlines()) == (1, [message])
  assert not out.exists()


def _sigint_as_at_a_terminal() -> None:
  """The run gets SIGINT's default action, as a command typed at a terminal does. A test suite
  started as a background job (`nohup tools/test &` in a script) inherits SIGINT ignored, and
  Python then installs no KeyboardInterrupt handler: the run would go on to the end (exit 0),
  as every Unix tool started that way does."""
  signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c(tmp_path, face_landmarker_task):
  """SIGINT in the middle of a run: one line, exit 130, nothing written."""
  out, report = tmp_path / "out.task", tmp_path / "r.json"
  env = dict(os.environ, PYTHONPATH=str(ROOT / "tools"))
  # A calibrated int8 run: after its first prepare line tens of seconds of work are left.
  calibration = ROOT / ".cache" / "inputs" / "calibration"
  for _ in range(3):  # a run that ended before the signal could be sent (a busy machine) proves nothing
    out.unlink(missing_ok=True)
    report.unlink(missing_ok=True)
    process = subprocess.Popen([sys.executable, "-m", "mediapipe_int8", f"--input={face_landmarker_task}",
                                f"--output={out}", "--recipe=int8", f"--calibration_dir={calibration}",
                                f"--report={report}"],
                               env=env, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_sigint_as_at_a_terminal)
    for line in process.stderr:  # the work has begun
      if "prepare" in line:
        break
    if process.poll() is None:
      break
    process.stderr.read()
  process.send_signal(signal.SIGINT)
  rest = process.stderr.read()
  assert process.wait(timeout=60) == 130, rest
  # Progress lines, and the engine's progress bars when the signal comes later, may come first:
  # the error is the one line that ends it.
  lines = rest.splitlines()
  assert lines and lines[-1] == "error: interrupted; nothing written", rest
  assert [l for l in lines if l.startswith("error:")] == lines[-1:] and "Traceback" not in rest, rest
  assert not out.exists() and not report.exists()
  assert not list(tmp_path.glob(".tmp-*"))


def test_weight_only_skips_photo_checks_that_find_no_hand(tmp_path, hand_landmarker_task):
  """Weight-only needs no calibration: photos without hands only cost the checks, said once."""
  photos = tmp_path / "photos"
  Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(photos.mkdir() or photos / "grey.png")
  out, report = tmp_path / "out.task", tmp_path / "r.json"
  process = run_cli(f"--input={hand_landmarker_task}", f"--output={out}", "--recipe=weight_only_int8",
                    f"--calibration_dir={photos}", f"--report={report}")
  skipped = [l for l in process.stderr.splitlines() if "photo checks skipped" in l]
  assert len(skipped) == 1 and skipped[0].startswith(f"{hand_landmarker_task}: photo checks skipped ("
                                                     f"{hand_landmarker_task}: the float hand "
                                                     "landmarker finds no hand"), process.stderr
  assert out.exists()
  assert json.loads(report.read_text())["skipped_photo_checks"] == [skipped[0].split("(", 1)[1][:-1]]
