"""Trains the reference PyTorch LIIFusion and ours side by side on CPU, from the same weights on the same
batches, and writes both loss curves (PNG) and the largest relative difference of each term (JSON).

  pip install -e '.[torch]'
  python benchmarks/train_side_by_side.py --reference ../shared/reference/liifusion-code \
      --stage1-steps 200 --stage2-steps 50 --out docs/train_side_by_side

Stage 1: the reference's seeded random weights, converted to ours; each step's batch is cut by the
reference's own data wrapper (`sr-implicit-downsampled`, draws recorded) from two of scikit-image's
photographs, and ours from the same draws by our sampler (`sampler.reference_draws`: the two batches
are checked equal); each side takes an Adam step with its own code (`train_stage1`, our jitted step).
Stage 2 then starts, on both sides, from the reference's stage-1 weights after stage 1 (its prior
encoder, now frozen, and the rest) with a fresh seeded diffusion prior and discriminator; ours is given
the reference's z_T of each step, and its perceptual loss reads the same (seeded, see
reference_code.py) VGG19 from a `.pth`. The curves part where Adam rounds a near-zero gradient to a
whole step in one run and not the other; the JSON says how far apart they end up.
"""
import argparse
import json
import pathlib
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import torch

import make_golden
import reference_code
import reference_training as rt
from liifusion_jax.config import apply_overrides, load_config
from liifusion_jax.convert import discriminator_params_from_state_dict, params_from_state_dict
from liifusion_jax.data import sampler
from liifusion_jax.train.stage1 import Stage1
from liifusion_jax.train.stage2 import REFERENCE_TERMS, Stage2

REPO = pathlib.Path(__file__).resolve().parents[1]


def as_photos(images):
  """The reference's CHW [0, 1] tensors as the uint8 HWC arrays a training folder gives our sampler."""
  return [np.round(img.permute(1, 2, 0).numpy() * 255).astype(np.uint8) for img in images]


def our_batch(batch, draws, photos, patch, sample_patch):
  """Our sampler's batch from the reference wrapper's recorded draws, checked equal to its batch."""
  scale, crops = sampler.reference_draws(draws.values, draws.choices, patch=patch, sample_patch=sample_patch)
  crop = sampler.crop_size(patch, scale)
  ours = sampler.assemble_batch([sampler.cut_sample(p, d, patch=patch, crop=crop)
                                 for p, d in zip(photos, crops)], scale, bucket=patch * 4)
  np.testing.assert_array_equal(ours["inp"], batch["inp"].permute(0, 2, 3, 1).numpy())
  np.testing.assert_array_equal(ours["gt"], batch["gt"].numpy())
  return ours


def run_stage1(ref, images, args):
  torch.manual_seed(args.seed)
  model = rt.stage1_model(ref)
  optimizer = rt.adam(ref, model.parameters(), args.lr1)
  config = apply_overrides(load_config(f"{REPO}/configs/stage1.py"), [f"optim.lr={args.lr1}"])
  task = Stage1(config, steps_per_epoch=1000)
  state = task.state_of_weights(jax.tree.map(jnp.asarray, params_from_state_dict(
      rt.state_dict_of(model), "stage1")[1]))
  step = jax.jit(task.make_train_step())
  wrapper = dict(inp_size=args.patch1, scale_max=4, augment=True, sample_q=args.patch1 ** 2)
  photos = as_photos(images)
  curves, seconds = {"ref": [], "ours": []}, {"ref": 0.0, "ours": 0.0}
  for i in range(args.stage1_steps):
    batch, draws = rt.reference_batch(ref, images, args.seed * 100000 + i, **wrapper)
    ours = our_batch(batch, draws, photos, args.patch1, sample_patch=False)
    t = time.perf_counter()
    curves["ref"].append(rt.stage1_step(ref, model, optimizer, batch))
    seconds["ref"] += time.perf_counter() - t
    t = time.perf_counter()
    state, metrics = step(state, ours, jax.random.PRNGKey(0))
    curves["ours"].append(float(metrics["loss"]))
    seconds["ours"] += time.perf_counter() - t
    print(f"stage 1 step {i}: L1 reference {curves['ref'][-1]:.6f}, ours {curves['ours'][-1]:.6f}", flush=True)
  return {"loss": curves}, seconds, model


def run_stage2(ref, images, stage1_model, vgg_path, args):
  torch.manual_seed(args.seed + 1)
  model, discriminator = rt.stage2_models(ref)
  model.load_state_dict(stage1_model.state_dict(), strict=False)  # stage 2 starts from stage 1
  m_optimizer = rt.adam(ref, model.parameters(), args.lr2)
  d_optimizer = rt.adam(ref, discriminator.parameters(), args.lr2)
  percept_fn = ref.utils.PerceptualLoss()
  config = apply_overrides(load_config(f"{REPO}/configs/stage2.py"), [
      f"optim.lr={args.lr2}", f"optim.d_lr={args.lr2}", f"data.patch={args.patch2}",
      "perceptual.kind=vgg19_pth", f"perceptual.path={vgg_path}"])
  task = Stage2(config, steps_per_epoch=1)
  state = task.state_of_weights(
      jax.tree.map(jnp.asarray, params_from_state_dict(rt.state_dict_of(model), "stage2")[1]),
      jax.tree.map(jnp.asarray, discriminator_params_from_state_dict(rt.state_dict_of(discriminator))))
  (vgg,) = task.load_step_constants()
  step = jax.jit(task.make_step_on_noise())
  wrapper = dict(inp_size=args.patch2, scale_max=4, augment=True, sample_patch=True)
  photos = as_photos(images)
  curves = {name: {"ref": [], "ours": []} for name in REFERENCE_TERMS}
  seconds = {"ref": 0.0, "ours": 0.0}
  for i in range(args.stage2_steps):
    batch, draws = rt.reference_batch(ref, images, args.seed * 100000 + 50000 + i, **wrapper)
    ours = our_batch(batch, draws, photos, args.patch2, sample_patch=True)
    t = time.perf_counter()
    terms, noise = rt.stage2_step(ref, model, discriminator, m_optimizer, d_optimizer, percept_fn, batch)
    seconds["ref"] += time.perf_counter() - t
    t = time.perf_counter()
    state, metrics = step(state, ours, noise.numpy(), vgg)
    metrics = jax.device_get(metrics)
    seconds["ours"] += time.perf_counter() - t
    for name, our_name in REFERENCE_TERMS.items():
      curves[name]["ref"].append(float(terms[name]))
      curves[name]["ours"].append(float(metrics[our_name]))
    print(f"stage 2 step {i}: loss reference {terms['m_loss']:.6f}, ours {float(metrics['g_loss']):.6f}",
          flush=True)
  return curves, seconds


def largest_relative_difference(curve):
  ref, ours = np.asarray(curve["ref"]), np.asarray(curve["ours"])
  rel = np.abs(ours - ref) / np.maximum(np.abs(ref), 1e-12)
  return {"max": float(rel.max()), "at_step": int(rel.argmax()), "first_step": float(rel[0])}


def plot(curves, path):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  names = list(curves)
  fig, axes = plt.subplots(2, (len(names) + 1) // 2, figsize=(3.2 * ((len(names) + 1) // 2), 6),
                           squeeze=False)
  for ax, name in zip(axes.flat, names):
    ax.plot(curves[name]["ref"], label="reference (PyTorch)", lw=2.5, color="#bbbbbb")
    ax.plot(curves[name]["ours"], label="liifusion-jax", lw=1, color="#c0392b")
    ax.set_title(name, fontsize=9)
    ax.set_xlabel("step", fontsize=8)
    ax.tick_params(labelsize=7)
  for ax in list(axes.flat)[len(names):]:
    ax.axis("off")
  axes.flat[0].legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=110)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--reference", required=True, help="a checkout of novwaul/LIIFusion")
  parser.add_argument("--stage1-steps", type=int, default=200)
  parser.add_argument("--stage2-steps", type=int, default=50)
  parser.add_argument("--patch1", type=int, default=16, help="stage 1's LR patch (its queries: patch^2)")
  parser.add_argument("--patch2", type=int, default=24, help="stage 2's LR patch (a multiple of 8)")
  parser.add_argument("--lr1", type=float, default=1e-4)
  parser.add_argument("--lr2", type=float, default=3e-5)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--out", type=pathlib.Path, default=REPO / "docs" / "train_side_by_side",
                      help="writes OUT.png and OUT.json")
  args = parser.parse_args()
  vgg_seed = 1000 + args.seed
  ref = reference_code.import_reference(args.reference, vgg_seed=vgg_seed)
  images = make_golden.photographs()
  stage1, seconds1, stage1_model = run_stage1(ref, images, args)
  with tempfile.TemporaryDirectory() as tmp:
    vgg_path = reference_code.write_vgg19_pth(vgg_seed, pathlib.Path(tmp) / "vgg19.pth")
    stage2, seconds2 = run_stage2(ref, images, stage1_model, vgg_path, args)
  curves = {"stage 1 L1": stage1["loss"], **{f"stage 2 {k}": v for k, v in stage2.items()}}
  args.out.parent.mkdir(parents=True, exist_ok=True)
  plot(curves, args.out.with_suffix(".png"))
  summary = {
      "command": {k: (str(v) if isinstance(v, pathlib.Path) else v) for k, v in vars(args).items()},
      "largest_relative_difference": {name: largest_relative_difference(c) for name, c in curves.items()},
      "seconds": {"stage1": seconds1, "stage2": seconds2}, "curves": curves}
  args.out.with_suffix(".json").write_text(json.dumps(summary, indent=1))
  for name, diff in summary["largest_relative_difference"].items():
    print(f"{name:18s} largest relative difference {diff['max']:.2e} (step {diff['at_step']}), "
          f"first step {diff['first_step']:.1e}")
  print(f"wrote {args.out.with_suffix('.png')} and {args.out.with_suffix('.json')}")


if __name__ == "__main__":
  main()
