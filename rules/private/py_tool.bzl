"""`py_tool`: a Python program of mediapipe_int8, run by mediapipe_int8's own Python toolchain.

Not a py_binary: py_binary takes whatever Python toolchain the workspace registered first, and a
MediaPipe fork registers its own (a Python without numpy). This rule resolves
`//rules:python_toolchain_type`, which only mediapipe_int8 registers, and writes a launcher that
names every file by its place in the runfiles tree, never by an absolute path: the interpreter and
its packages are runfiles too, so an action that runs the tool has the same key everywhere.
"""

load(":python_toolchain.bzl", "runfiles_path")

TOOLCHAIN_TYPE = str(Label("//rules:python_toolchain_type"))

_LAUNCHER = """\
#!/bin/bash
# {label}: runs {main} with mediapipe_int8's Python (rules/private/py_tool.bzl).
set -euo pipefail
if [[ -d "$0.runfiles" ]]; then
  runfiles="$0.runfiles"
elif [[ -n "${{RUNFILES_DIR:-}}" ]]; then
  runfiles="${{RUNFILES_DIR}}"
else
  echo "error: $0: no runfiles beside it and no RUNFILES_DIR" >&2
  exit 1
fi
export LD_LIBRARY_PATH="${{runfiles}}/{library_dir}"
exec "${{runfiles}}/{interpreter}" -S -s -E -B "${{runfiles}}/{bootstrap}" "{interpreter}" \\
  "${{runfiles}}/{site_packages}" "${{runfiles}}/{lock}" "${{runfiles}}/{main}" "$@"
"""

def _py_tool_impl(ctx):
    python = ctx.toolchains[TOOLCHAIN_TYPE].python
    launcher = ctx.actions.declare_file(ctx.label.name)
    ctx.actions.write(
        output = launcher,
        content = _LAUNCHER.format(
            label = ctx.label,
            main = runfiles_path(ctx, ctx.file.main),
            library_dir = python.library_dir,
            interpreter = runfiles_path(ctx, python.interpreter),
            bootstrap = runfiles_path(ctx, ctx.file._bootstrap),
            site_packages = python.site_packages,
            lock = runfiles_path(ctx, python.lock),
        ),
        is_executable = True,
    )
    runfiles = ctx.runfiles(
        files = ctx.files.srcs + ctx.files.data + [ctx.file.main, ctx.file._bootstrap],
        transitive_files = python.files,
    )
    return [DefaultInfo(executable = launcher, runfiles = runfiles)]

py_tool = rule(
    implementation = _py_tool_impl,
    executable = True,
    attrs = {
        "main": attr.label(
            allow_single_file = [".py"],
            mandatory = True,
            doc = "The script to run; its folder is first on sys.path.",
        ),
        "srcs": attr.label_list(allow_files = [".py"], doc = "The modules it imports."),
        "data": attr.label_list(allow_files = True, doc = "Files it reads at run time."),
        "_bootstrap": attr.label(
            default = Label("//rules/private:py_bootstrap.py"),
            allow_single_file = True,
        ),
    },
    toolchains = [TOOLCHAIN_TYPE],
    doc = "A Python program run with mediapipe_int8's Python toolchain (interpreter and packages as runfiles).",
)
