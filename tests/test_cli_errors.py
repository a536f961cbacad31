"""Every bad input: one `error:` line naming the file, exit 1, no traceback, no output file."""

import io
import zipfile

import pytest

import synthetic
from conftest import run_cli
from photos_fixture import write_astronaut


def _assert_refused(process, output, *expected_words):
  assert process.returncode == 1, process.stderr
  lines = [l for l in process.stderr.splitlines() if l.startswith("error: ")]
  assert len(lines) == 1, process.stderr
  assert "Traceback" not in process.stderr
  for word in expected_words:
    assert word in lines[0], lines[0]
  assert not output.exists()
  assert not list(output.parent.glob(".tmp-*")), "a temporary file was left behind"


def test_missing_input(tmp_path):
  out = tmp_path / "out.task"
  _assert_refused(run_cli(f"--input={tmp_path}/nope.task", f"--output={out}", "--recipe=none",
                          check=False), out, "nope.task", "does not exist")


def test_input_neither_zip_nor_tflite(tmp_path):
  path = tmp_path / "photo.task"
  path.write_bytes(b"\x89PNG not a bundle at all" * 10)
  out = tmp_path / "out.task"
  _assert_refused(run_cli(f"--input={path}", f"--output={out}", "--recipe=none", check=False),
                  out, "photo.task", "not a .task bundle")


def test_bundle_without_model(tmp_path):
  path = tmp_path / "empty.task"
  path.write_bytes(synthetic.bundle_of({}, data_entry=("only.binarypb", b"abc")))
  out = tmp_path / "out.task"
  _assert_refused(run_cli(f"--input={path}", f"--output={out}", "--recipe=none", check=False),
                  out, "empty.task", "no .tflite model")


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_model_in_bundle(tmp_path, cut):
  model = synthetic.image_model()
  path = tmp_path / "cut.task"
  path.write_bytes(synthetic.bundle_of({"a.tflite": model[:int(len(model) * cut)]}))
  out = tmp_path / "out.task"
  _assert_refused(run_cli(f"--input={path}", f"--output={out}", "--recipe=weight_only_int8",
                          check=False), out, "cut.task/a.tflite", "TFLite model")


def test_corrupt_single_tflite(tmp_path):
  model = bytearray(synthetic.image_model())
  model[8:400] = b"\xff" * 392  # keep the identifier, destroy the tables
  path = tmp_path / "bad.tflite"
  path.write_bytes(bytes(model))
  out = tmp_path / "out.tflite"
  _assert_refused(run_cli(f"--input={path}", f"--output={out}", "--recipe=weight_only_int8",
                          check=False), out, "bad.tflite")


@pytest.mark.parametrize("name", ["../escape.tflite", "/abs/model.tflite"])
def test_unsafe_entry_name(tmp_path, name):
  buffer = io.BytesIO()
  with zipfile.ZipFile(buffer, "w") as archive:
    archive.writestr(name, synthetic.image_model())
  path = tmp_path / "unsafe.task"
  path.write_bytes(buffer.getvalue())
  out = tmp_path / "out.task"
  _assert_refused(run_cli(f"--input={path}", f"--output={out}", "--recipe=none", check=False),
                  out, "unsafe.task", name)


@pytest.mark.parametrize("flag", ["--model_recipe=nothere.tflite=int8", "--exclude=nothere.tflite"])
def test_unknown_entry_name(tmp_path, good_bundle, flag):
  out = tmp_path / "out.task"
  _assert_refused(run_cli(f"--input={good_bundle}", f"--output={out}", "--recipe=none", flag,
                          check=False), out, "good.task", "nothere.tflite", "not an entry")


@pytest.mark.parametrize("flag", ["--recipe=int4", "--model_recipe=a.tflite=fp8"])
def test_unknown_recipe(tmp_path, good_bundle, flag):
  out = tmp_path / "out.task"
  _assert_refused(run_cli(f"--input={good_bundle}", f"--output={out}", flag, check=False),
                  out, "unknown recipe")


def test_calibrated_recipe_without_photos(tmp_path, good_bundle):
  out = tmp_path / "out.task"
  _assert_refused(run_cli(f"--input={good_bundle}", f"--output={out}", "--recipe=int8", check=False),
                  out, "good.task", "a.tflite", "--calibration_dir")


def test_learned_rounding_without_photos(tmp_path, good_bundle):
  """Training needs photos even where the recipe itself doesn't (weight-only learned rounding)."""
  out = tmp_path / "out.task"
  _assert_refused(run_cli(f"--input={good_bundle}", f"--output={out}", "--recipe=weight_only_int8",
                          "--reconstruct_steps=10", check=False),
                  out, "--reconstruct_steps=10", "--calibration_dir")


def test_empty_calibration_folder(tmp_path, good_bundle):
  (tmp_path / "photos").mkdir()
  (tmp_path / "photos" / "notes.txt").write_text("no photos here")
  out = tmp_path / "out.task"
  _assert_refused(run_cli(f"--input={good_bundle}", f"--output={out}",
                          f"--calibration_dir={tmp_path / 'photos'}", check=False),
                  out, "photos", "no .jpg, .png or .webp")


def test_unreadable_calibration_photo(tmp_path, good_bundle):
  photos = tmp_path / "photos"
  write_astronaut(photos)
  (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
  out = tmp_path / "out.task"
  _assert_refused(run_cli(f"--input={good_bundle}", f"--output={out}", f"--calibration_dir={photos}",
                          check=False), out, "broken.jpg", "cannot be read")


def test_failed_run_keeps_an_existing_output(tmp_path, good_bundle):
  out = tmp_path / "out.task"
  out.write_bytes(b"previous result")
  process = run_cli(f"--input={good_bundle}", f"--output={out}", "--recipe=int8", check=False)
  assert process.returncode == 1
  assert out.read_bytes() == b"previous result"


def test_quiet_success_prints_nothing_and_the_report_has_the_table(good_bundle, tmp_path):
  # Calibrated int8 runs the engine, whose progress bars and logs used to fill a Bazel build log.
  out, report = tmp_path / "out.task", tmp_path / "report.json"
  process = run_cli(f"--input={good_bundle}", f"--output={out}", "--recipe=int8",
                    "--random_calibration=a.tflite", f"--report={report}", "--quiet")
  assert (process.stdout, process.stderr) == ("", "")
  assert out.exists()
  import json
  assert json.loads(report.read_text())["table"].startswith("good.task: ")
  loud = run_cli(f"--input={good_bundle}", f"--output={tmp_path / 'loud.task'}", "--recipe=int8",
                 "--random_calibration=a.tflite")
  assert "a.tflite: quantize (int8)" in loud.stderr and loud.stdout.startswith("good.task: ")
  assert (tmp_path / "loud.task").read_bytes() == out.read_bytes()


def test_quiet_failure_is_still_one_error_line(tmp_path):
  out = tmp_path / "out.task"
  process = run_cli(f"--input={tmp_path}/nope.task", f"--output={out}", "--recipe=none", "--quiet",
                    check=False)
  _assert_refused(process, out, "nope.task", "does not exist")
  assert process.stderr.count("\n") == 1 and process.stdout == ""
