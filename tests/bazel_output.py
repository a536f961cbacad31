"""Running Bazel in the Bazel tests, and reading what it wrote: digests, the process summary and
the spawns of an execution log."""

import dataclasses
import hashlib
import json
import os
import pathlib
import re
import subprocess

# Bazel's own summary line, e.g. "INFO: 5 processes: 1 remote cache hit, 4 internal.", after a
# "(12:34:56) " when --show_timestamps is on.
PROCESSES = re.compile(r"^(\(\d\d:\d\d:\d\d\) )?INFO: \d+ process(es)?: .*$", re.MULTILINE)
BUILD_TIMEOUT = 900


def sha256(path: pathlib.Path) -> str:
  return hashlib.sha256(path.read_bytes()).hexdigest()


def process_summary(output: str) -> str:
  lines = [m.group(0) for m in PROCESSES.finditer(output)]
  assert lines, f"no process summary in Bazel's output:\n{output[-3000:]}"
  return lines[-1]


def spawns(log: pathlib.Path) -> list[dict]:
  """The SpawnExec entries of an --execution_log_json_file (JSON objects one after another)."""
  text, decoder, out, i = log.read_text(), json.JSONDecoder(), [], 0
  while True:
    while i < len(text) and text[i].isspace():
      i += 1
    if i >= len(text):
      return out
    entry, i = decoder.raw_decode(text, i)
    out.append(entry)


def spawn_writing(log: pathlib.Path, suffix: str) -> dict:
  found = [s for s in spawns(log)
           if any(o.get("path", "").endswith(suffix) for o in s.get("actualOutputs", []))]
  assert len(found) == 1, f"expected one spawn writing {suffix}, got {len(found)}"
  return found[0]


def input_digests(spawn: dict) -> dict[str, str]:
  """Each input's path (as the action sees it) and sha256."""
  return {i["path"]: i["digest"]["hash"] for i in spawn.get("inputs", [])}


@dataclasses.dataclass
class Bazel:
  """One Bazel server: the command that starts Bazel (with its startup options), a workspace, an
  output base, flags for every command, and environment variables."""
  command: list[str]
  workspace: pathlib.Path
  output_base: pathlib.Path
  env: dict = dataclasses.field(default_factory=dict)
  flags: list = dataclasses.field(default_factory=list)

  def run(self, *args: str) -> subprocess.CompletedProcess:
    startup = [f"--output_base={self.output_base}", "--max_idle_secs=900"]
    common = [] if args[0] == "shutdown" else self.flags + ["--color=no", "--curses=no"]
    if args[0] != "query" and common:
      common.append("--symlink_prefix=/")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAZEL", "USE_BAZEL"))}
    env.update(self.env)
    return subprocess.run(self.command + startup + [args[0]] + common + list(args[1:]),
                          cwd=self.workspace, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)

  def build(self, *args: str) -> str:
    result = self.run("build", *args)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"bazel build {' '.join(args)} failed:\n{output[-6000:]}"
    return output

  def bin_dir(self, *config: str) -> pathlib.Path:
    result = self.run("info", *config, "bazel-bin")
    assert result.returncode == 0, result.stderr[-3000:]
    return pathlib.Path(result.stdout.strip())

  def shutdown(self) -> None:
    if self.output_base.exists():
      self.run("shutdown")
