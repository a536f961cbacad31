"""`@mediapipe_int8_py_rules//:defs.bzl`: py_binary from rules_python where the workspace has it.

A BUILD file cannot load a .bzl file only if its repository exists, so a repository rule writes
the one to load:
  - Bzlmod (Bazel 7+): MODULE.bazel depends on rules_python, and defs.bzl re-exports its
    `py_binary`, `py_runtime` and `py_runtime_pair`. Bazel 8 drops the native Python rules under
    Bzlmod, so nothing of ours uses them there.
  - WORKSPACE: rules_python when the WORKSPACE declared it before mediapipe_int8_dependencies()
    (as MediaPipe's does); otherwise Bazel's native rules. Bazel 4.2.3 offline has no rules_python.
"""

_RULES_PYTHON = """\
load("{repo}//python:py_binary.bzl", _py_binary = "py_binary")
load("{repo}//python:py_runtime.bzl", _py_runtime = "py_runtime")
load("{repo}//python:py_runtime_pair.bzl", _py_runtime_pair = "py_runtime_pair")

RULES = "rules_python"
py_binary = _py_binary
py_runtime = _py_runtime
py_runtime_pair = _py_runtime_pair
"""

_NATIVE = """\
load("@bazel_tools//tools/python:toolchain.bzl", _py_runtime_pair = "py_runtime_pair")

RULES = "native"

def py_binary(**kwargs):
    native.py_binary(**kwargs)

def py_runtime(**kwargs):
    native.py_runtime(**kwargs)

py_runtime_pair = _py_runtime_pair
"""

def _py_rules_repository_impl(rctx):
    repo = rctx.attr.rules_python
    rctx.file("WORKSPACE", "workspace(name = \"{}\")\n".format(rctx.name))
    rctx.file("BUILD.bazel", "exports_files([\"defs.bzl\"])\n")
    rctx.file("defs.bzl", _RULES_PYTHON.format(repo = repo) if repo else _NATIVE)

py_rules_repository = repository_rule(
    implementation = _py_rules_repository_impl,
    attrs = {
        "rules_python": attr.string(
            doc = "rules_python's repository as this repository sees it (\"@rules_python\"), " +
                  "or \"\" for Bazel's native Python rules.",
        ),
    },
    doc = "Writes defs.bzl with py_binary, py_runtime and py_runtime_pair to load.",
)
