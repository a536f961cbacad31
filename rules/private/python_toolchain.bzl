"""`mediapipe_int8_python_runtime`: the toolchain of mediapipe_int8's own Python toolchain type.

It names an interpreter, the files it needs (standard library, packages) and where the packages
are. python_environment.bzl makes one from the lock; a workspace that wants another Python for the
quantizer defines its own and registers it for `@mediapipe_int8//rules:python_toolchain_type`.
"""

MediapipeInt8PythonInfo = provider(
    doc = "An interpreter and its packages, as runfiles of the tools that run in it.",
    fields = {
        "interpreter": "File: the Python executable.",
        "files": "depset of File: everything the interpreter reads (stdlib, packages).",
        "lock": "File: the pins the packages must match (name==version lines).",
        "site_packages": "string: the packages' folder, as a path below the runfiles root.",
        "library_dir": "string: the folder of libpython, as a path below the runfiles root.",
    },
)

def runfiles_path(ctx, file):
    """Where `file` lies below a runfiles root (`<repository>/<path>`)."""
    if file.short_path.startswith("../"):
        return file.short_path[3:]
    return ctx.workspace_name + "/" + file.short_path

def _beside(ctx, file, relative):
    # `relative` is a path from the root of the package that `file` belongs to.
    repository = file.owner.workspace_name or ctx.workspace_name
    return "/".join([part for part in [repository, file.owner.package, relative] if part])

def _runtime_impl(ctx):
    interpreter = ctx.file.interpreter
    return [platform_common.ToolchainInfo(python = MediapipeInt8PythonInfo(
        interpreter = interpreter,
        files = depset([interpreter, ctx.file.lock] + ctx.files.files),
        lock = ctx.file.lock,
        site_packages = _beside(ctx, interpreter, ctx.attr.site_packages),
        library_dir = _beside(ctx, interpreter, ctx.attr.library_dir),
    ))]

mediapipe_int8_python_runtime = rule(
    implementation = _runtime_impl,
    attrs = {
        "interpreter": attr.label(
            allow_single_file = True,
            mandatory = True,
            doc = "The Python executable (a file in the build, never an absolute path).",
        ),
        "files": attr.label_list(
            allow_files = True,
            doc = "Everything the interpreter reads: its standard library and the packages.",
        ),
        "lock": attr.label(
            allow_single_file = True,
            mandatory = True,
            doc = "requirements.lock: each name==version must be installed, or tools fail at start.",
        ),
        "site_packages": attr.string(
            mandatory = True,
            doc = "The packages' folder, relative to this target's package.",
        ),
        "library_dir": attr.string(
            default = "",
            doc = "The folder of a shared libpython, relative to this target's package.",
        ),
    },
    doc = "A Python for mediapipe_int8's tools, for `@mediapipe_int8//rules:python_toolchain_type`.",
)
