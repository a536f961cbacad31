"""`mediapipe_int8_task`: a macro over the rule that runs the quantizer `//tools:quantize_task`."""

load(":photos.bzl", "PHOTO_EXTENSIONS")

# The recipes of tools/mediapipe_int8/recipes.py (tests/test_bazel_setup.py keeps the two in step).
RECIPES = ["auto", "int8", "weight_only_int8", "dynamic_int8", "int16x8", "none"]

def _check_model_recipes(model_recipes):
    for model, recipe in model_recipes.items():
        if recipe not in RECIPES:
            fail("model_recipes[{}] must be one of {}, got {}".format(
                repr(model),
                RECIPES,
                repr(recipe),
            ))

def _task_impl(ctx):
    report = ctx.actions.declare_file(ctx.label.name + ".report.json")
    args = ctx.actions.args()

    # Silent on success, as rules_pkg's tools are: the table is in the report, errors still print.
    args.add("--quiet")
    args.add(ctx.file.src, format = "--input=%s")
    args.add(ctx.outputs.out, format = "--output=%s")
    args.add(report, format = "--report=%s")
    args.add(ctx.attr.recipe, format = "--recipe=%s")
    for model in sorted(ctx.attr.model_recipes):
        args.add("--model_recipe={}={}".format(model, ctx.attr.model_recipes[model]))
    args.add_all(sorted(ctx.attr.exclude), format_each = "--exclude=%s")
    if ctx.attr.num_calibration_samples:
        args.add(ctx.attr.num_calibration_samples, format = "--num_calibration_samples=%s")
    if ctx.attr.budget_nme:
        args.add(ctx.attr.budget_nme, format = "--budget_nme=%s")
    if ctx.attr.budget_blendshapes:
        args.add(ctx.attr.budget_blendshapes, format = "--budget_blendshapes=%s")
    if ctx.attr.reconstruct_steps:
        args.add(ctx.attr.reconstruct_steps, format = "--reconstruct_steps=%s")
    if ctx.attr.io != "float":
        args.add(ctx.attr.io, format = "--io=%s")

    # One flag per file: a label such as a filegroup may stand for many photos.
    args.add_all(ctx.files.calibration_images, format_each = "--calibration_image=%s")
    args.use_param_file("--flagfile=%s", use_always = False)
    args.set_param_file_format("multiline")

    ctx.actions.run(
        executable = ctx.executable.quantizer,
        arguments = [args],
        inputs = [ctx.file.src] + ctx.files.calibration_images,
        outputs = [ctx.outputs.out, report],
        mnemonic = "MediapipeInt8Quantize",
        progress_message = "Quantizing {} for {}".format(ctx.file.src.short_path, ctx.label),
    )
    return [
        DefaultInfo(files = depset([ctx.outputs.out])),
        OutputGroupInfo(report = depset([report])),
    ]

_task = rule(
    implementation = _task_impl,
    attrs = {
        "src": attr.label(
            allow_single_file = [".task", ".tflite"],
            mandatory = True,
            doc = "The float `.task` bundle or `.tflite` model.",
        ),
        "out": attr.output(mandatory = True, doc = "The quantized bundle."),
        "recipe": attr.string(
            default = "int8",
            values = RECIPES,
            doc = "The recipe for every model.",
        ),
        "model_recipes": attr.string_dict(doc = "A recipe per model file name; wins over recipe."),
        "exclude": attr.string_list(doc = "Model file names to drop from the bundle."),
        "calibration_images": attr.label_list(
            allow_files = PHOTO_EXTENSIONS,
            doc = "Photos for static recipes.",
        ),
        "num_calibration_samples": attr.int(doc = "Calibration samples; 0 keeps the tool's default."),
        # Strings: Starlark attributes have no float type.
        "budget_nme": attr.string(doc = "The largest landmark NME against float, e.g. \"0.02\"."),
        "budget_blendshapes": attr.string(doc = "The largest blendshape score change."),
        "reconstruct_steps": attr.int(
            doc = "Learned int8 or, with recipe weight_only_int8, learned rounding: training " +
                  "steps of the face landmarks model against float (0: none).",
        ),
        "io": attr.string(
            default = "float",
            values = ["float", "int8"],
            doc = "The model's input and output type: int8 only for one `.tflite` with recipe int8.",
        ),
        "quantizer": attr.label(
            default = Label("//tools:quantize_task"),
            executable = True,
            cfg = "exec",
            doc = "The quantizer command line.",
        ),
    },
    doc = "Runs the quantizer on one bundle: the `.task` by default, the report in output group `report`.",
)

def mediapipe_int8_task(
        name,
        src,
        out = None,
        recipe = "int8",
        model_recipes = {},
        exclude = [],
        calibration_images = [],
        num_calibration_samples = None,
        budget_nme = None,
        budget_blendshapes = None,
        reconstruct_steps = 0,
        io = "float",
        **kwargs):
    """Quantizes the models of a MediaPipe `.task` bundle (or one `.tflite`) to INT8.

    The target's only default output is the bundle, so `assets = [":<name>"]` puts one file in an
    APK. `out = "face_landmarker.task"` keeps Google's asset name for apps that load it by name.
    The report (what was done to each model, sizes, errors against float) is
    `<name>.report.json`, in output group `report`:
    `filegroup(name = "report", srcs = [":<name>"], output_group = "report")`.

    Args:
      name: target name.
      src: label of the float `.task` bundle or `.tflite` model.
      out: output file name; defaults to `<name>.task`.
      recipe: recipe for every model: auto, int8, weight_only_int8, dynamic_int8, int16x8 or none.
      model_recipes: dict from a model's file name in the bundle to its recipe; wins over `recipe`.
      exclude: file names of models to drop from the bundle.
      calibration_images: labels of photos for static recipes (each label may give many files).
      num_calibration_samples: how many calibration samples to make; None keeps the tool's default.
      budget_nme: the error budget: the largest landmark NME against float on held-back photos
        (e.g. 0.02). With recipe "auto" it steers the search (default: float's one-pixel jitter);
        with any other recipe a bundle over it fails the build, and nothing is written.
      budget_blendshapes: likewise for the largest blendshape score change.
      reconstruct_steps: learned int8 (recipe "int8"): trains the face landmarks model's int8
        weights and ranges against float for this many steps before the engine writes it; the
        same bytes every time. 150 steps train in about 200 s on a 2-core machine and take the
        full-int8 face bundle from 4.4% to 2.8% NME on held-out faces (docs/results.md). With
        recipe "weight_only_int8" it learns the weights' rounding alone (1.30% to 0.97%).
      io: "float" keeps float32 model inputs and outputs (MediaPipe's runtime needs them); "int8"
        makes them int8 for integer-only NPUs: only for a single `.tflite` with recipe "int8"
        (a `.task` is refused). The report gives each input's and output's scale and zero point.
      **kwargs: passed to the rule (visibility, tags, testonly, exec_properties, ...).
    """
    _check_model_recipes(model_recipes)
    _task(
        name = name,
        src = src,
        out = out or name + ".task",
        recipe = recipe,
        model_recipes = model_recipes,
        exclude = exclude,
        calibration_images = calibration_images,
        num_calibration_samples = num_calibration_samples or 0,
        budget_nme = str(budget_nme) if budget_nme != None else "",
        budget_blendshapes = str(budget_blendshapes) if budget_blendshapes != None else "",
        reconstruct_steps = reconstruct_steps,
        io = io,
        **kwargs
    )
