"""The rules' Starlark unit tests (tests/bazel/starlark, bazel-skylib's analysistest): the
quantizer's arguments, the target's files and the gate's script, without building anything."""

import pathlib
import re

import pytest

from bazel_output import Bazel
from conftest import ROOT

WORKSPACE = ROOT / "tests" / "bazel" / "starlark"
SKYLIB = pathlib.Path("/usr/share/bazel/tools/skylib")  # Debian's bazel-skylib; WORKSPACE names it


@pytest.fixture(scope="module")
def starlark_bazel(real_bazel, tmp_path_factory):
  # Debian's bazel-skylib (tools/test installs it) is where the test workspace looks for it.
  assert (SKYLIB / "lib" / "unittest.bzl").exists(), \
      "bazel-skylib is not installed: tools/test installs it (apt-get install bazel-skylib)"
  server = Bazel([real_bazel], WORKSPACE, tmp_path_factory.mktemp("starlark") / "output_base")
  yield server
  server.shutdown()


def test_rule_unit_tests_pass(starlark_bazel):
  result = starlark_bazel.run("test", "//:task_tests", "--test_output=errors")
  output = result.stdout + result.stderr
  assert result.returncode == 0, output[-6000:]
  passed = re.findall(r"^//:(\w+_test)\s.*PASSED", output, re.M)
  assert sorted(passed) == ["all_attributes_test", "defaults_test", "gate_test"], output[-3000:]
