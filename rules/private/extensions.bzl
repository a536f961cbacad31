"""Bzlmod: the repositories that rules/deps.bzl declares for WORKSPACE users."""

load(":deps.bzl", "PYTHON_REPOSITORY", "PY_RULES_REPOSITORY")
load(":py_rules.bzl", "py_rules_repository")
load(":python_toolchain.bzl", "python_repository")

def _mediapipe_int8_impl(_module_ctx):
    # MODULE.bazel depends on rules_python: under Bzlmod the Python rules always come from it.
    py_rules_repository(name = PY_RULES_REPOSITORY, rules_python = "@rules_python")
    python_repository(name = PYTHON_REPOSITORY)

# Under Bzlmod there is no WORKSPACE suffix, so the offline stand-ins are not needed.
mediapipe_int8 = module_extension(implementation = _mediapipe_int8_impl)
