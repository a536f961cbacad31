"""Bazel 7.7.1 runs an action on a real REAPI executor on 127.0.0.1 (tests/reapi.py: PostgreSQL,
BuildGrid, a buildbox worker in the sid root of tests/bazel/bazel7.sh), then gets it back from the
remote cache after `bazel clean`.

Needs root (the sid root, runuser). Set MEDIAPIPE_INT8_SKIP_REMOTE=<reason> to skip it on purpose;
otherwise a harness that cannot start fails the test with the services' logs.
"""

import os
import pathlib
import subprocess
import tempfile
import time

import pytest

import reapi
from bazel_output import process_summary

SKIP = os.environ.get("MEDIAPIPE_INT8_SKIP_REMOTE")
pytestmark = pytest.mark.skipif(bool(SKIP), reason=f"MEDIAPIPE_INT8_SKIP_REMOTE={SKIP}")

BUILD = """\
genrule(
    name = "hello",
    outs = ["hello.txt"],
    cmd = "printf 'remote %s\\\\n' \\"$$(uname -s)\\" > $@",
)
"""
EXPECTED = b"remote Linux\n"


def bazel(workspace: pathlib.Path, output_base: pathlib.Path, *args: str) -> str:
  result = subprocess.run(
      ["bash", str(reapi.BAZEL7), "bazel", str(workspace), f"--output_base={output_base}",
       "--max_idle_secs=60", *args], capture_output=True, text=True, timeout=600, check=False)
  output = result.stdout + result.stderr
  assert result.returncode == 0, f"bazel {' '.join(args)} failed:\n{output[-4000:]}"
  return output


def test_genrule_runs_remotely_then_hits_the_remote_cache():
  with tempfile.TemporaryDirectory(prefix="remote_ws_", dir="/tmp") as tmp:
    workspace, output_base = pathlib.Path(tmp) / "ws", pathlib.Path(tmp) / "ob"
    workspace.mkdir()
    (workspace / "MODULE.bazel").write_text('module(name = "remote_smoke")\n')
    (workspace / "BUILD.bazel").write_text(BUILD)
    subprocess.run(["bash", str(reapi.BAZEL7), "root"], check=True, capture_output=True,
                   timeout=1800)
    started = time.monotonic()
    with reapi.Cluster(pathlib.Path("/tmp")) as cluster:
      print(f"harness started in {time.monotonic() - started:.1f} s")
      try:
        flags = ["--color=no", "--curses=no", "--spawn_strategy=remote",
                 "--remote_local_fallback=false", *cluster.bazel_flags()]
        output = bazel(workspace, output_base, "build", *flags, "//:hello")
        summary = process_summary(output)
        assert " 1 remote" in summary, summary
        out = output_base / "execroot" / "_main" / "bazel-out" / "k8-fastbuild" / "bin" / "hello.txt"
        assert out.read_bytes() == EXPECTED
        bazel(workspace, output_base, "clean")
        output = bazel(workspace, output_base, "build", *flags, "//:hello")
        summary = process_summary(output)
        assert "1 remote cache hit" in summary, summary
        assert out.read_bytes() == EXPECTED
      except BaseException:
        print(cluster.tails())
        raise
      finally:
        subprocess.run(["bash", str(reapi.BAZEL7), "bazel", str(workspace),
                        f"--output_base={output_base}", "shutdown"], capture_output=True,
                       timeout=120, check=False)
    print(f"test took {time.monotonic() - started:.1f} s")
