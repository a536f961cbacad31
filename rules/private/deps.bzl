"""What a consumer's WORKSPACE needs for the mediapipe_int8 rules."""

load("@bazel_tools//tools/build_defs/repo:utils.bzl", "maybe")
load(":offline_standins.bzl", "coverage_tools_standin", "rules_cc_standin", "rules_java_standin")
load(":python_environment.bzl", "python_environment")

PYTHON_REPOSITORY = "mediapipe_int8_python"

def mediapipe_int8_dependencies(offline_bazel_standins = False):
    """Declares the quantizer's Python and registers its toolchain.

    `@mediapipe_int8_python` holds an interpreter and the packages of
    `third_party/requirements.lock` (python_environment.bzl). Its toolchain is for
    `@mediapipe_int8//rules:python_toolchain_type`, a type only these rules use: the workspace's own
    Python toolchains (MediaPipe's, TensorFlow's) are neither replaced nor taken.

    Args:
      offline_bazel_standins: declare local stand-ins for rules_cc, rules_java and
        remote_coverage_tools, which Bazel 4's WORKSPACE suffix would download. Repositories the
        workspace declared before this call are kept.
    """
    maybe(python_environment, name = PYTHON_REPOSITORY)
    native.register_toolchains("@{}//:toolchain".format(PYTHON_REPOSITORY))
    if offline_bazel_standins:
        maybe(rules_cc_standin, name = "rules_cc")
        maybe(rules_java_standin, name = "rules_java")
        maybe(coverage_tools_standin, name = "remote_coverage_tools")
