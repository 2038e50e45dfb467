"""Writes notebooks/colab.ipynb (nbformat 4) from the cells below: `python notebooks/make_colab.py`.

`--check` exits 1 when the notebook on disk differs from what this script writes (CI runs it, so
the notebook is never edited by hand). The cells only call the package's command-line entry points
in-process, so tests/test_notebook.py can run them on CPU with tiny settings; the install cell skips
installing where a checkout of the package is importable, and the upload cell falls back to a bundled
photograph outside Colab.
"""
import json
import pathlib
import sys

NOTEBOOK = pathlib.Path(__file__).with_name("colab.ipynb")

CELLS = [
    ("markdown", """\
# LIIFusion in JAX: train, evaluate, upscale

Arbitrary-scale super-resolution with a diffusion prior (LIIFusion), in JAX/Flax. This notebook trains
the *quick* stage-1 and stage-2 configs on photographs bundled with scikit-image (no download), evaluates
the result and upscales an image you upload.

**Runtime → Change runtime type → GPU.** The quick runs then take minutes. A CPU runtime works too,
slowly: shorten the runs with `QUICK_OVERRIDES` below. To upscale with the bundled model only, run
*Install*, *Settings* and *Upscale your image*: the training cells can be skipped."""),
    ("markdown", "## Install"),
    ("code", """\
#@title Where the package comes from { display-mode: "form" }
#@markdown Fill in **one**: the repository's git URL (`https://...git`), or the path of a wheel
#@markdown (`liifusion_jax-0.1.0-py3-none-any.whl`, made in a checkout by `pip wheel --no-deps -w dist .`),
#@markdown an archive of the repository (`.zip`, `.tar.gz`) or its folder, uploaded to this runtime
#@markdown (Files pane: `/content/liifusion_jax-0.1.0-py3-none-any.whl`) or on Google Drive
#@markdown (`/content/drive/MyDrive/...`, mounted when needed).
REPO_URL = ""  #@param {type:"string"}
SOURCE_PATH = ""  #@param {type:"string"}
JAX = "jax[cuda12]"  #@param ["jax[cuda12]", "jax"]"""),
    ("code", """\
import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys


def repository_folder(repo_url, source_path, target="liifusion-jax"):
  \"\"\"The repository's folder: SOURCE_PATH's folder or unpacked archive, else a clone of REPO_URL.\"\"\"
  if source_path:
    return unpacked(on_this_runtime(source_path), pathlib.Path(target))
  if repo_url:
    subprocess.run(["git", "clone", "-q", "--depth", "1", repo_url, target], check=True)
    return pathlib.Path(target)
  raise ValueError("the form above is empty: set REPO_URL to the repository's git URL, or SOURCE_PATH "
                   "to an uploaded or Drive wheel, archive or folder of it, then run both cells again")


def on_this_runtime(source_path):
  \"\"\"SOURCE_PATH as a path that exists, Google Drive mounted first where it is on Drive.\"\"\"
  path = pathlib.Path(source_path)
  if str(path).startswith("/content/drive") and not path.exists():
    from google.colab import drive
    drive.mount("/content/drive")
  if not path.exists():
    raise FileNotFoundError(f"SOURCE_PATH {path} does not exist")
  return path


def unpacked(path, target):
  \"\"\"A folder as it is, or an archive unpacked into `target` (entering its one top folder).\"\"\"
  if path.is_dir():
    return path
  shutil.unpack_archive(path, target)
  folders = [p for p in target.iterdir() if p.is_dir()]
  return target if (target / "pyproject.toml").exists() or len(folders) != 1 else folders[0]


def install(repo_url, source_path, jax):
  \"\"\"Installs the package with `jax` unless a checkout of it is importable (then enters it): a wheel
  as it is, else the repository's folder (editable; entered).\"\"\"
  found = importlib.util.find_spec("liifusion_jax")
  folder = pathlib.Path(found.origin).parents[1] if found else None
  if folder is not None and (folder / "configs").is_dir():
    os.chdir(folder)
  elif source_path.endswith(".whl"):
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", str(on_this_runtime(source_path)), jax],
                   check=True)
    folder = source_path
  else:
    folder = repository_folder(repo_url, source_path).resolve()
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", str(folder), jax], check=True)
    sys.path.insert(0, str(folder))
    os.chdir(folder)
  print(f"liifusion_jax from {folder}")


install(REPO_URL, SOURCE_PATH, JAX)"""),
    ("code", """\
import jax

print(jax.devices())  # a GPU runtime lists a CUDA device; several devices are all used"""),
    ("markdown", "## Settings"),
    ("code", """\
import os

from PIL import Image

RUNS = "runs"          # run folders and outputs go here
QUICK_OVERRIDES = []   # extra --config.KEY=VALUE for both stages, e.g. ["--config.epochs=3"]
EVAL_SCALES = "2,3,4,8,12"
EVAL_DATA = []         # folders of HR images to evaluate on; empty: the bundled held-out photographs
UPSCALE = 4.0          # scale factor for the uploaded image
stage1_dir, stage2_dir = f"{RUNS}/stage1_quick", f"{RUNS}/stage2_quick"


def stage2_model():
  \"\"\"The stage-2 run trained below where there is one, else the bundled model (no training needed).\"\"\"
  return stage2_dir if os.path.isdir(f"{stage2_dir}/checkpoints") else "pretrained:stage2\""""),
    ("markdown", """\
## Stage 1

The prior encoder sees the HR image (paper Eq. 1) and the network learns to reconstruct from it. The
same command line is `python train.py --config stage1:quick --workdir runs/stage1_quick` (the bundled
config; `configs/stage1.py:quick` in a checkout); running it again resumes from the last checkpoint."""),
    ("code", """\
import glob
import json

from liifusion_jax.cli.train import main as train


def show_run(workdir):
  \"\"\"Prints the validation records of a run; returns its sample as bicubic | model | HR.\"\"\"
  for line in open(f"{workdir}/metrics.jsonl"):
    record = json.loads(line)
    if any(key.startswith(("val_", "psnr")) for key in record):
      print(record)
  tiles = [Image.open(sorted(glob.glob(f"{workdir}/samples/*_{name}.png"))[-1])
           for name in ("bicubic", "model", "hr")]
  strip = Image.new("RGB", (sum(t.width for t in tiles), tiles[0].height))
  for i, tile in enumerate(tiles):
    strip.paste(tile, (i * tile.width, 0))
  return strip


assert train(["--config", "stage1:quick", "--workdir", stage1_dir, *QUICK_OVERRIDES]) == 0
show_run(stage1_dir)"""),
    ("markdown", """\
## Stage 2

A 4-step latent diffusion replaces the HR prior, so no HR image is needed; trained from the stage-1
run with L1 + perceptual + GAN + diffusion losses (Eq. 6-9). The frozen stage-1 prior encoder gives
the diffusion targets."""),
    ("code", """\
assert train(["--config", "stage2:quick", "--workdir", stage2_dir,
              f"--config.init_from={stage1_dir}", *QUICK_OVERRIDES]) == 0
show_run(stage2_dir)"""),
    ("markdown", """\
Both runs' losses, learning rate, validation PSNR/LPIPS next to bicubic's, and the validation samples
at each validation, in TensorBoard (elsewhere: `pip install 'liifusion-jax[tensorboard]'` or
`pip install tensorboard`, then `tensorboard --logdir runs/`)."""),
    ("code", """\
%load_ext tensorboard
%tensorboard --logdir {RUNS}"""),
    ("markdown", """\
## Evaluate

PSNR and LPIPS per scale, against bicubic (`python eval.py --checkpoint runs/stage2_quick --scales ...`),
of the stage-2 run trained above, else of the bundled model. A quick run is far from the paper's
numbers: it shows the pipeline, not the model."""),
    ("code", """\
from liifusion_jax.cli.eval import main as evaluate

data = ["--data", *EVAL_DATA] if EVAL_DATA else []
assert evaluate(["--checkpoint", stage2_model(), "--scales", EVAL_SCALES, *data,
                 "--json", f"{RUNS}/eval_stage2.json", "--overwrite"]) == 0  # the cell can run again
assert evaluate(["--method", "bicubic", "--lpips", "--scales", EVAL_SCALES, *data]) == 0"""),
    ("markdown", """\
## Upscale your image

Colab asks for a file (keep it small on a free GPU: a few hundred pixels a side); elsewhere, or if
you cancel, a bundled photograph is used. The stage-2 run trained above upscales it where there is one,
else the bundled model (`pretrained:stage2`). Same as `python upscale.py IN -o OUT --checkpoint ... --scale ...`."""),
    ("code", """\
try:
  from google.colab import files
  uploaded = list(files.upload())
except ImportError:  # not on Colab
  uploaded = []
if uploaded:
  image_path = uploaded[0]
else:
  import skimage.data
  image_path = f"{RUNS}/cat.png"
  Image.fromarray(skimage.data.chelsea()[::3, ::3]).save(image_path)"""),
    ("code", """\
from liifusion_jax.cli.upscale import main as upscale

output_path = f"{RUNS}/upscaled.png"
assert upscale([image_path, "-o", output_path, "--checkpoint", stage2_model(), "--scale", str(UPSCALE),
                "--overwrite"]) == 0
sr = Image.open(output_path)
bicubic = Image.open(image_path).convert("RGB").resize(sr.size, Image.BICUBIC)
side_by_side = Image.new("RGB", (2 * sr.width, sr.height))
side_by_side.paste(bicubic, (0, 0))
side_by_side.paste(sr, (sr.width, 0))
side_by_side  # left: bicubic, right: LIIFusion"""),
    ("code", """\
try:
  from google.colab import files
  files.download(output_path)
except ImportError:
  print(f"written to {output_path}")"""),
]


def notebook():
  cells = []
  for i, (kind, text) in enumerate(CELLS):
    cell = {"cell_type": kind, "id": f"cell-{i}", "metadata": {},
            "source": text.splitlines(keepends=True)}
    if kind == "code":
      cell.update(execution_count=None, outputs=[])
    cells.append(cell)
  return {
      "cells": cells,
      "metadata": {
          "accelerator": "GPU",
          "colab": {"provenance": [], "gpuType": "T4"},
          "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
          "language_info": {"name": "python"},
      },
      "nbformat": 4,
      "nbformat_minor": 5,
  }


def render():
  return json.dumps(notebook(), indent=1, ensure_ascii=False) + "\n"


def main(argv):
  text = render()
  if "--check" in argv:
    if not NOTEBOOK.exists() or NOTEBOOK.read_text() != text:
      print(f"{NOTEBOOK} is out of date: run python notebooks/make_colab.py", file=sys.stderr)
      return 1
    return 0
  NOTEBOOK.write_text(text)
  print(f"wrote {NOTEBOOK}")
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
