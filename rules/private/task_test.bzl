"""`mediapipe_int8_task_test`: a quantized bundle against its float bundle in MediaPipe's runtime."""

load(":photos.bzl", "PHOTO_EXTENSIONS")

_GATE = Label("//tools:accuracy_gate")

def _shell_quote(text):
    return "'" + text.replace("'", "'\\''") + "'"

def _task_test_impl(ctx):
    args = [
        "--float_task=" + ctx.file.float_task.short_path,
        "--task=" + ctx.file.task.short_path,
    ] + ["--photo=" + photo.short_path for photo in ctx.files.photos]
    if ctx.attr.budget_nme:
        args.append("--budget_nme=" + ctx.attr.budget_nme)
    if ctx.attr.budget_blendshapes:
        args.append("--budget_blendshapes=" + ctx.attr.budget_blendshapes)
    script = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.write(
        output = script,
        content = "#!/bin/bash\nexec {} {}\n".format(
            _shell_quote(ctx.executable._gate.short_path),
            " ".join([_shell_quote(arg) for arg in args]),
        ),
        is_executable = True,
    )
    runfiles = ctx.runfiles(files = [ctx.file.task, ctx.file.float_task] + ctx.files.photos)
    runfiles = runfiles.merge(ctx.attr._gate[DefaultInfo].default_runfiles)
    return [DefaultInfo(executable = script, runfiles = runfiles)]

_task_test = rule(
    implementation = _task_test_impl,
    test = True,
    attrs = {
        "task": attr.label(allow_single_file = [".task"], mandatory = True),
        "float_task": attr.label(allow_single_file = True, mandatory = True),
        "photos": attr.label_list(allow_files = PHOTO_EXTENSIONS, mandatory = True),
        # Strings: Starlark attributes have no float type.
        "budget_nme": attr.string(),
        "budget_blendshapes": attr.string(),
        "_gate": attr.label(default = _GATE, executable = True, cfg = "target"),
    },
)

def mediapipe_int8_task_test(
        name,
        task,
        float_task,
        photos,
        budget_nme = None,
        budget_blendshapes = None,
        **kwargs):
    """Fails when the quantized bundle's answers leave the budget on these photos.

    Runs both bundles with MediaPipe's FaceLandmarker, or HandLandmarker or PoseLandmarker for a
    hand or pose landmarker bundle, on `photos` (never the calibration photos), prints per-face
    (per-hand, per-pose) NME, pixels and blendshape change, and fails when a face, hand or pose is
    lost or the error exceeds the budget.

    Args:
      name: test name.
      task: the quantized `.task` file, e.g. ":<name>.task" of a mediapipe_int8_task target.
      float_task: the float bundle it came from.
      photos: labels of photos to judge on.
      budget_nme: largest mean landmark NME (e.g. 0.02); default: float's own under a one-pixel
        move of the photos.
      budget_blendshapes: largest blendshape score change; default: float's own likewise.
      **kwargs: passed to the test (size, tags, ...).
    """
    _task_test(
        name = name,
        task = task,
        float_task = float_task,
        photos = photos,
        budget_nme = str(budget_nme) if budget_nme != None else "",
        budget_blendshapes = str(budget_blendshapes) if budget_blendshapes != None else "",
        **kwargs
    )
