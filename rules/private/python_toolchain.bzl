"""A Python toolchain whose interpreter is a virtualenv with the pinned requirements.

Bazel 4.2.3 ignores `--python_path`, and its rules_python is not available offline, so the
interpreter comes from a repository rule. It reads MEDIAPIPE_INT8_PYTHON (set it in the client
environment or with `--repo_env=MEDIAPIPE_INT8_PYTHON=/abs/path/python3`); without it, it uses
`.venv/bin/python3` at the root of this repository, which `tools/bazel` creates.
"""

PYTHON_ENV = "MEDIAPIPE_INT8_PYTHON"

_BUILD = """\
load("@{py_rules}//:defs.bzl", "py_runtime", "py_runtime_pair")

py_runtime(
    name = "py3_runtime",
    interpreter_path = "{interpreter}",
    python_version = "PY3",
    stub_shebang = "#!{interpreter}",
)

py_runtime_pair(
    name = "runtime_pair",
    py2_runtime = None,
    py3_runtime = ":py3_runtime",
)

toolchain(
    name = "toolchain",
    toolchain = ":runtime_pair",
    toolchain_type = "@bazel_tools//tools/python:toolchain_type",
    visibility = ["//visibility:public"],
)
"""

def _interpreter(rctx):
    configured = rctx.os.environ.get(PYTHON_ENV, "")
    if configured:
        return rctx.path(configured), PYTHON_ENV
    root = rctx.path(rctx.attr.rules_root).dirname
    return root.get_child(".venv").get_child("bin").get_child("python3"), "the default"

def _python_repository_impl(rctx):
    interpreter, origin = _interpreter(rctx)
    if not interpreter.exists:
        fail(("Python interpreter {} ({}) does not exist. Run tools/bazel once in the " +
              "mediapipe_int8 repository to create its .venv, or set {} to a python3 that has " +
              "third_party/requirements.txt installed.").format(interpreter, origin, PYTHON_ENV))
    rctx.file("WORKSPACE", "workspace(name = \"{}\")\n".format(rctx.name))
    rctx.file("BUILD.bazel", _BUILD.format(interpreter = interpreter, py_rules = rctx.attr.py_rules))

python_repository = repository_rule(
    implementation = _python_repository_impl,
    attrs = {
        "rules_root": attr.label(
            default = Label("//:WORKSPACE"),
            doc = "A file at the root of the mediapipe_int8 repository; its .venv is the default.",
        ),
        "py_rules": attr.string(
            default = "mediapipe_int8_py_rules",
            doc = "The py_rules_repository (rules/private/py_rules.bzl) to load py_runtime from.",
        ),
    },
    environ = [PYTHON_ENV],
    local = True,
    doc = "Defines a py_runtime_pair toolchain `@<name>//:toolchain` for the pinned interpreter.",
)
