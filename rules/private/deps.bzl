"""What a consumer's WORKSPACE needs for the mediapipe_int8 rules."""

load("@bazel_tools//tools/build_defs/repo:utils.bzl", "maybe")
load(":offline_standins.bzl", "coverage_tools_standin", "rules_cc_standin", "rules_java_standin")
load(":py_rules.bzl", "py_rules_repository")
load(":python_toolchain.bzl", "python_repository")

PYTHON_REPOSITORY = "mediapipe_int8_python"
PY_RULES_REPOSITORY = "mediapipe_int8_py_rules"

def mediapipe_int8_dependencies(register_python_toolchain = True, offline_bazel_standins = False):
    """Declares the repositories and toolchains the rules need.

    Args:
      register_python_toolchain: register `@mediapipe_int8_python//:toolchain`, a py_runtime
        toolchain whose interpreter has third_party/requirements.txt installed (see
        MEDIAPIPE_INT8_PYTHON). Set to False when the workspace registers its own Python
        toolchain with those requirements.
      offline_bazel_standins: declare local stand-ins for rules_cc, rules_java and
        remote_coverage_tools, which Bazel 4's WORKSPACE suffix would download. Repositories the
        workspace declared before this call are kept.

    The Python rules come from rules_python when the WORKSPACE declared `rules_python` before
    this call, and are Bazel's native ones otherwise (`@mediapipe_int8_py_rules//:defs.bzl`).
    """
    maybe(
        py_rules_repository,
        name = PY_RULES_REPOSITORY,
        rules_python = "@rules_python" if native.existing_rule("rules_python") else "",
    )
    maybe(python_repository, name = PYTHON_REPOSITORY)
    if register_python_toolchain:
        native.register_toolchains("@{}//:toolchain".format(PYTHON_REPOSITORY))
    if offline_bazel_standins:
        maybe(rules_cc_standin, name = "rules_cc")
        maybe(rules_java_standin, name = "rules_java")
        maybe(coverage_tools_standin, name = "remote_coverage_tools")
