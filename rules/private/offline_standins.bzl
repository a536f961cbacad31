"""Offline stand-ins for the repositories that Bazel 4's WORKSPACE suffix downloads.

Bazel appends a suffix to every WORKSPACE that declares rules_cc, rules_java and
remote_coverage_tools as http_archives. Builds of py_binary and test rules reach for them, and
without internet they fail. These repository rules write tiny local repositories with the few
targets Bazel's own tools ask for. They are opt-in: a workspace that can download the real ones,
or already declares them, keeps those.
"""

_CC_DEFS = """\
def cc_binary(**kwargs):
    native.cc_binary(**kwargs)

def cc_library(**kwargs):
    native.cc_library(**kwargs)

def cc_test(**kwargs):
    native.cc_test(**kwargs)

def cc_import(**kwargs):
    native.cc_import(**kwargs)

def cc_proto_library(**kwargs):
    native.cc_proto_library(**kwargs)

def cc_toolchain(**kwargs):
    native.cc_toolchain(**kwargs)

def cc_toolchain_suite(**kwargs):
    native.cc_toolchain_suite(**kwargs)

def objc_library(**kwargs):
    native.objc_library(**kwargs)

def objc_import(**kwargs):
    native.objc_import(**kwargs)
"""

_JAVA_DEFS = """\
def java_binary(**kwargs):
    native.java_binary(**kwargs)

def java_import(**kwargs):
    native.java_import(**kwargs)

def java_library(**kwargs):
    native.java_library(**kwargs)

def java_test(**kwargs):
    native.java_test(**kwargs)

def java_plugin(**kwargs):
    native.java_plugin(**kwargs)

def java_proto_library(**kwargs):
    native.java_proto_library(**kwargs)

def java_lite_proto_library(**kwargs):
    native.java_lite_proto_library(**kwargs)

def java_toolchain(**kwargs):
    native.java_toolchain(**kwargs)

def java_runtime(**kwargs):
    native.java_runtime(**kwargs)
"""

_COVERAGE_BUILD = """\
# Stand-in for Bazel's remote_coverage_tools: coverage is not collected offline.
sh_binary(
    name = "coverage_output_generator",
    srcs = ["coverage_output_generator.sh"],
    visibility = ["//visibility:public"],
)

sh_binary(
    name = "Main",
    srcs = ["coverage_output_generator.sh"],
    visibility = ["//visibility:public"],
)

filegroup(
    name = "coverage_report_generator",
    srcs = [],
    visibility = ["//visibility:public"],
)
"""

_COVERAGE_SCRIPT = """\
#!/bin/sh
echo "remote_coverage_tools is an offline stand-in (mediapipe_int8); no coverage report" >&2
exit 0
"""

def _write_standin(rctx, files):
    rctx.file("WORKSPACE", "workspace(name = \"{}\")\n".format(rctx.name))
    for path, content in files.items():
        rctx.file(path, content, executable = path.endswith(".sh"))

def _rules_cc_standin_impl(rctx):
    _write_standin(rctx, {
        "BUILD.bazel": "",
        "cc/BUILD.bazel": "exports_files([\"defs.bzl\"])\n",
        "cc/defs.bzl": _CC_DEFS,
    })

def _rules_java_standin_impl(rctx):
    _write_standin(rctx, {
        "BUILD.bazel": "",
        "java/BUILD.bazel": "exports_files([\"defs.bzl\"])\n",
        "java/defs.bzl": _JAVA_DEFS,
    })

def _coverage_tools_standin_impl(rctx):
    _write_standin(rctx, {
        "BUILD.bazel": _COVERAGE_BUILD,
        "coverage_output_generator.sh": _COVERAGE_SCRIPT,
    })

rules_cc_standin = repository_rule(
    implementation = _rules_cc_standin_impl,
    doc = "rules_cc whose macros forward to Bazel's native C++ rules.",
)

rules_java_standin = repository_rule(
    implementation = _rules_java_standin_impl,
    doc = "rules_java whose macros forward to Bazel's native Java rules.",
)

coverage_tools_standin = repository_rule(
    implementation = _coverage_tools_standin_impl,
    doc = "remote_coverage_tools with a no-op coverage output generator.",
)
