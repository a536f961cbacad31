"""docs/rules.md is generated from the rules' docstrings (tools/rule_docs.py) and must not go stale."""

import subprocess
import sys

from conftest import ROOT


def test_committed_rule_docs_are_the_generated_ones():
  process = subprocess.run([sys.executable, str(ROOT / "tools" / "rule_docs.py"), "--check"],
                           capture_output=True, text=True, timeout=60)
  assert process.returncode == 0, process.stderr


def test_the_reference_documents_every_public_symbol_and_argument():
  text = (ROOT / "docs" / "rules.md").read_text()
  for symbol in ("mediapipe_int8_task", "mediapipe_int8_task_test", "mediapipe_int8_dependencies",
                 "mediapipe_int8_python_runtime"):
    assert f"## `{symbol}`" in text
  for argument in ("calibration_images", "model_recipes", "budget_nme", "float_task", "photos"):
    assert f"| `{argument}` |" in text


def test_a_changed_docstring_makes_the_check_fail(tmp_path):
  import shutil
  copy = tmp_path / "repo"
  for part in ("rules", "tools", "docs"):
    shutil.copytree(ROOT / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
  task = copy / "rules" / "private" / "task.bzl"
  task.write_text(task.read_text().replace("target name.", "the target's name.", 1))
  process = subprocess.run([sys.executable, str(copy / "tools" / "rule_docs.py"), "--check"],
                           capture_output=True, text=True, timeout=60)
  assert process.returncode == 1
  assert process.stderr.strip() == "error: docs/rules.md: stale; run python3 tools/rule_docs.py"
