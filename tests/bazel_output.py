"""Reading Bazel's output in the Bazel tests: file digests and the closing process summary."""

import hashlib
import pathlib
import re

# Bazel's own summary line, e.g. "INFO: 5 processes: 1 remote cache hit, 4 internal.", after a
# "(12:34:56) " when --show_timestamps is on.
PROCESSES = re.compile(r"^(\(\d\d:\d\d:\d\d\) )?INFO: \d+ process(es)?: .*$", re.MULTILINE)


def sha256(path: pathlib.Path) -> str:
  return hashlib.sha256(path.read_bytes()).hexdigest()


def process_summary(output: str) -> str:
  lines = [m.group(0) for m in PROCESSES.finditer(output)]
  assert lines, f"no process summary in Bazel's output:\n{output[-3000:]}"
  return lines[-1]
