"""The `mediapipe_int8_task` macro: a genrule around the quantizer `//tools:quantize_task`."""

# Label() binds the tool to this repository, so the macro also works when a consumer loads it
# as @mediapipe_int8//rules:defs.bzl (WORKSPACE) or under Bzlmod.
_QUANTIZER = Label("//tools:quantize_task")

# The recipes of tools/mediapipe_int8/recipes.py (tests/test_bazel_setup.py keeps the two in step).
RECIPES = ["auto", "int8", "weight_only_int8", "dynamic_int8", "int16x8", "none"]

def _check_recipe(recipe, what):
    if recipe not in RECIPES:
        fail("{} must be one of {}, got {}".format(what, RECIPES, repr(recipe)))

def quantize_args(recipe, model_recipes, exclude, num_calibration_samples, budget_nme = None,
                  budget_blendshapes = None):
    """Returns the quantizer flags that do not name files, in a fixed order."""
    _check_recipe(recipe, "recipe")
    args = ["--recipe=" + recipe]
    for model in sorted(model_recipes):
        _check_recipe(model_recipes[model], "model_recipes[{}]".format(repr(model)))
        args.append("--model_recipe={}={}".format(model, model_recipes[model]))
    for model in sorted(exclude):
        args.append("--exclude=" + model)
    if num_calibration_samples != None:
        args.append("--num_calibration_samples={}".format(num_calibration_samples))
    if budget_nme != None:
        args.append("--budget_nme={}".format(budget_nme))
    if budget_blendshapes != None:
        args.append("--budget_blendshapes={}".format(budget_blendshapes))
    return args

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
        **kwargs):
    """Quantizes the models of a MediaPipe `.task` bundle (or one `.tflite`) to INT8.

    Produces `<out or name + ".task">` and `<name>.report.json`.

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
      **kwargs: passed to the genrule (visibility, tags, testonly, ...).
    """
    out = out or name + ".task"
    report = name + ".report.json"
    tool = str(_QUANTIZER)
    flags = quantize_args(recipe, model_recipes, exclude, num_calibration_samples, budget_nme,
                          budget_blendshapes)

    # One --calibration_image flag per file: a label such as a filegroup may stand for many.
    images = " ".join(["$(locations {})".format(image) for image in calibration_images])
    cmd = " ".join([
        "images=();",
        "for image in {}; do images+=(--calibration_image=\"$$image\"); done;".format(images),
        "$(execpath {})".format(tool),
        "--input=$(location {})".format(src),
        "--output=$(location {})".format(out),
        "--report=$(location {})".format(report),
    ] + flags + ["\"$${images[@]}\""])

    native.genrule(
        name = name,
        srcs = [src] + calibration_images,
        outs = [out, report],
        cmd = cmd,
        tools = [tool],
        message = "Quantizing {} for {}".format(src, name),
        **kwargs
    )
