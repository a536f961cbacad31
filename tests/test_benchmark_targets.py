"""The benchmark's target table: each variant against the issue's targets, with measured values."""

from mediapipe_int8 import benchmark, evaluate, landmarkers


def _comparison(nme, lost, blendshapes):
  found = [evaluate.DetectionError("a.jpg", nme, 1.0, 2.0, blendshapes)]
  return evaluate.Comparison(found, reference_count=len(found) + lost, lost=lost)


def test_each_target_says_yes_or_no_with_the_measured_value():
  face = landmarkers.FACE
  bundles = {"float16 (Google)": b"x" * 1000, "int8": b"x" * 630, "small": b"x" * 480}
  accuracy = {"float16 (Google)": None, "int8": _comparison(0.042, 1, 0.94),
              "small": _comparison(0.012, 0, 0.30)}
  floor = _comparison(0.0131, 0, 0.46)
  row = benchmark.ModelRow
  model_rows = [  # model, variant, bytes, MACs, int8 share, inner conversions, ms, ratio, ms, ratio
      row(face.detector, "int8", 0, 100, 1.0, 0, 1.0, 0.66, 1.0, 0.7),
      row(face.landmarks, "int8", 0, 300, 0.5, 138, 1.0, 0.84, 1.0, 0.9),
      row(face.detector, "small", 0, 100, 1.0, 0, 1.0, 1.0, 1.0, 1.0),
      row(face.landmarks, "small", 0, 100, 1.0, 0, 1.0, 1.08, 1.0, 1.1),
  ]
  lines = benchmark.target_lines(face, bundles, accuracy, floor, model_rows)
  rows = {l.split(" | ")[0].lstrip("| "): l.split(" | ")[1:] for l in lines if l.startswith("| ")}
  assert rows["int8"] == ["no, 63%", "no, 62%", "no, 138", "no, 1 lost", "no, 4.20% vs 1.31%",
                          "no, 0.94 vs 0.46", "yes, 0.84x |"]
  assert rows["small"] == ["yes, 48%", "yes, 100%", "yes, 0", "yes, 0 lost", "yes, 1.20% vs 1.31%",
                           "yes, 0.30 vs 0.46", "no, 1.08x |"]
  assert "float16 (Google)" not in rows


def test_variants_take_the_command_lines_flags():
  """benchmark --extra is parsed by the command line's own parser (options.py): every quantizer
  flag works there, and a wrong one is one error naming the variant's words."""
  import pytest

  from mediapipe_int8 import options
  from mediapipe_int8.errors import UserError

  parsed = options.parse(["--recipe=auto", "--budget_nme=0.02", "--range_percentile=99.9",
                          "--num_calibration_samples=8", "--model_recipe=a.tflite=none"],
                         input="in.task", output="out.task", calibration_dir="photos")
  assert (parsed.recipe, parsed.budget.nme, parsed.static.percentile, parsed.num_calibration_samples,
          parsed.model_recipes, parsed.calibration_dir) == ("auto", 0.02, 99.9, 8, {"a.tflite": "none"},
                                                            "photos")
  with pytest.raises(UserError, match="--prelu=fast"):
    options.parse(["--prelu=fast"], input="in.task", output="out.task")


def test_the_tools_share_one_process():
  """No module defines flags at import: the command line, the gate and the benchmark import
  together (DuplicateFlagError for budget_nme once)."""
  import subprocess
  import sys

  from conftest import ROOT
  code = ("from mediapipe_int8 import cli, accuracy_gate, benchmark\n"
          "cli.define_flags(); cli.define_flags()\n")
  process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                           env={"PYTHONPATH": str(ROOT / "tools"), "PATH": "/usr/bin:/bin"})
  assert process.returncode == 0, process.stderr


def test_ablation_switches_off_each_technique_of_the_variant_in_turn(tmp_path):
  """benchmark --ablation: the variant as its flags give it, then once per technique with only
  that technique off; the table gives each one's change against the variant."""
  runs = benchmark.ablation_runs("learned:--recipe=int8 --reconstruct_steps=150", "in.task", tmp_path,
                                 "photos")
  base = runs[0][1]
  assert runs[0][0] == "learned"
  assert (base.recipe, base.static.reconstruct_steps, base.static.output_templates) == ("int8", 150, True)
  assert [name for name, _ in runs[1:]] == [benchmark.ablated("learned", t) for t in benchmark.ABLATIONS]
  assert len({run.output for _, run in runs}) == len(runs)
  from mediapipe_int8 import reconstruct
  for (name, run), technique in zip(runs[1:], benchmark.ABLATIONS):
    assert (run.recipe, run.calibration_dir, run.input) == ("int8", "photos", "in.task")
    changed = {f for f, v in vars(run.static).items() if v != getattr(base.static, f)}
    assert changed == set(benchmark.ABLATIONS[technique]), technique  # that technique alone
    switched = dict(run.static.reconstruct_overrides)
    assert vars(reconstruct.Options(**switched)) != vars(reconstruct.Options()) or not switched

  face = landmarkers.FACE
  names = [name for name, _ in runs]
  bundles = {n: b"x" * (600 + i) for i, n in enumerate(names)}
  accuracy = {n: _comparison(0.02 + 0.001 * i, 0, 0.5) for i, n in enumerate(names)}
  reports = {n: {"models": [{"rewrites": {"reconstruction": {"seconds": 100.0}}}, {}]} for n in names}
  rows = [l for l in benchmark.ablation_lines("learned", face, bundles, accuracy, reports)
          if l.startswith("| ") and not l.startswith("| switched")]
  assert rows[0] == "| nothing (learned) | 2.00% | | 0.50 | 0 of 1 | 600 | 100 |"
  assert rows[1] == "| block loss | 2.10% | +0.10 points | 0.50 | 0 of 1 | 601 | 100 |"
  assert len(rows) == 1 + len(benchmark.ABLATIONS)
