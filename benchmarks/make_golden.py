"""Writes the golden files the parity tests read, from a checkout of the reference PyTorch code.

  pip install -e '.[torch]'
  python benchmarks/make_golden.py --reference PATH_TO_LIIFUSION_CHECKOUT OUT [--seed 0]
  LIIFUSION_GOLDEN_DIR=OUT python -m pytest -q -k "parity or discriminator"

OUT gets the forward files (`stage1.npz`, `stage2.npz`, `discriminator.npz`: seeded random weights,
two cases each) and the training files (`train1.npz`: 5 stage-1 steps, `train2.npz`: 3 stage-2 steps
with the discriminator), in the layout ../shared/README.md describes. The training batches are cut by
the reference's own data wrapper from two of scikit-image's photographs (192 x 192 centre crops), its
draws recorded; the steps are its own `train_stage1` / `train_stage2`. Another `--seed` gives other
weights, batches and noise. Runs on CPU in a few minutes; the reference is imported from PATH
(reference_code.py says what stands in for what it needs and this machine lacks), nothing of it is
copied.
"""
import argparse
import pathlib

import numpy as np
import torch

import reference_code
import reference_training as rt

FORWARD_CASES = {"c0": ((21, 30), 2.7), "c1": ((16, 24), 2.0)}  # LR size, scale
TRAIN = {
    "stage1": dict(steps=5, lr=1e-4, wrapper=dict(inp_size=16, scale_max=4, augment=True, sample_q=256)),
    "stage2": dict(steps=3, lr=3e-5, wrapper=dict(inp_size=48, scale_max=4, augment=True, sample_patch=True)),
}
MILESTONES, GAMMA, EPOCHS = (200, 400, 600, 800), 0.5, 1000


def photographs(size=192):
  """Two of scikit-image's colour photographs, centre crops of `size`, CHW float in [0, 1]."""
  import skimage.data
  images = []
  for name in ("astronaut", "coffee"):
    image = getattr(skimage.data, name)()
    top, left = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
    crop = image[top:top + size, left:left + size]
    images.append(torch.from_numpy(crop.copy()).permute(2, 0, 1).float().div(255))
  return images


def _case_inputs(rng, lr_hw, scale):
  """A random LR/HR pair in [-1, 1] and every HR pixel centre as the queries, as the reference's."""
  from utils import make_coord  # the reference's
  hr_hw = tuple(round(n * scale) for n in lr_hw)
  inp = torch.from_numpy(rng.uniform(-1, 1, (1, 3, *lr_hw)).astype(np.float32))
  ref = torch.from_numpy(rng.uniform(-1, 1, (1, 3, *hr_hw)).astype(np.float32))
  coord = make_coord(hr_hw)[None]
  cell = torch.ones_like(coord) * torch.tensor([2 / hr_hw[0], 2 / hr_hw[1]])
  return inp, ref, coord, cell


def forward_files(ref, seed):
  """{'stage1': arrays, 'stage2': arrays, 'discriminator': arrays}: seeded weights and outputs."""
  rng, out = np.random.default_rng(seed), {}
  torch.manual_seed(seed)
  stage1 = rt.stage1_model(ref).eval()
  stage2, discriminator = rt.stage2_models(ref)
  stage2.eval()
  arrays1 = {f"sd/{k}": v for k, v in rt.state_dict_of(stage1).items()}
  arrays2 = {f"sd/{k}": v for k, v in rt.state_dict_of(stage2).items()}
  with torch.no_grad():
    for case, (lr_hw, scale) in FORWARD_CASES.items():
      inp, hr, coord, cell = _case_inputs(rng, lr_hw, scale)
      up = torch.nn.functional.interpolate(inp, size=hr.shape[-2:], mode="bicubic")
      common = {"inp": inp, "ref": hr, "coord": coord, "cell": cell}
      stage1.gen_feat(inp, hr)
      arrays1.update({f"{case}/{k}": v.numpy() for k, v in {
          **common, "enc_feat": stage1.encoder(inp), "prior": stage1.prior_encoder(torch.cat((hr, up), 1)),
          "injected_feat": stage1.feat, "pred": stage1.query_rgb(coord, cell)}.items()})
      noise = torch.from_numpy(rng.standard_normal((1, 256)).astype(np.float32))
      original_randn, torch.randn = torch.randn, lambda *a, **k: noise.clone()
      try:
        stage2.gen_feat(inp, hr)  # eval mode draws z_T with torch.randn: the case's noise
      finally:
        torch.randn = original_randn
      arrays2.update({f"{case}/{k}": v.numpy() for k, v in {
          **common, "noise": noise, "cond": stage2.condition_encoder(inp), "lr_up": up,
          "hr_prior": stage2.prior_encoder(torch.cat((hr, up), 1)), "sampled_prior": stage2.sampled_prior,
          "injected_feat": stage2.feat, "pred": stage2.query_rgb(coord, cell)}.items()})
  generator = stage2.prior_generator
  arrays2.update({f"schedule/{name}": getattr(generator, name).numpy() for name in (
      "betas", "alphas", "alphas_bar", "sqrt_alphas_bar", "sqrt_one_minus_alphas_bar",
      "one_over_sqrt_alphas", "betas_over_sqrt_one_minus_alphas_bar", "sigmas")})
  x = torch.from_numpy(rng.uniform(0, 1, (2, 3, 40, 56)).astype(np.float32))
  discriminator.train()
  with torch.no_grad():
    for _ in range(3):  # training-mode forwards: the power iteration moves u, v
      discriminator(x)
    discriminator.eval()
    y = discriminator(x)
  arrays_d = {f"sd/{k}": v for k, v in rt.state_dict_of(discriminator).items()}
  arrays_d.update(x=x.numpy(), y=y.numpy())
  return {"stage1": arrays1, "stage2": arrays2, "discriminator": arrays_d}


def _batch_arrays(prefix, batch, draws):
  return {**{f"{prefix}{k}": v.numpy() for k, v in batch.items()}, **draws.arrays(prefix)}


def train1(ref, images, seed):
  spec = TRAIN["stage1"]
  torch.manual_seed(seed)
  model = rt.stage1_model(ref)
  optimizer = rt.adam(ref, model.parameters(), spec["lr"])
  out = {"hr_images": torch.stack(images).numpy(), "steps": np.int64(spec["steps"]),
         **{f"init/{k}": v for k, v in rt.state_dict_of(model).items()}}
  losses = []
  for i in range(spec["steps"]):
    batch, draws = rt.reference_batch(ref, images, seed * 1000 + i, **spec["wrapper"])
    out.update(_batch_arrays(f"batch{i}/", batch, draws))
    losses.append(rt.stage1_step(ref, model, optimizer, batch))
    if i == 0:
      out.update({f"grad0/{k}": v for k, v in rt.grads_of(model).items()})
  out["loss"] = np.array(losses)
  out.update({f"final/{k}": v for k, v in rt.state_dict_of(model).items()})
  out["schedule/lr_by_epoch"] = rt.lr_by_epoch(spec["lr"], MILESTONES, GAMMA, EPOCHS)
  return out


def train2(ref, images, seed, vgg_seed):
  spec, kept = TRAIN["stage2"], ("conv0.", "conv8.weight_orig", "conv9.")
  torch.manual_seed(seed + 1)
  model, discriminator = rt.stage2_models(ref)
  m_optimizer = rt.adam(ref, model.parameters(), spec["lr"])
  d_optimizer = rt.adam(ref, discriminator.parameters(), spec["lr"])
  percept_fn = ref.utils.PerceptualLoss()
  out = {"hr_images": torch.stack(images).numpy(), "steps": np.int64(spec["steps"]),
         "vgg_seed": np.int64(vgg_seed),
         **{f"init/{k}": v for k, v in rt.state_dict_of(model).items()},
         **{f"d_init/{k}": v for k, v in rt.state_dict_of(discriminator).items()}}
  losses = {name: [] for name in rt.STAGE2_TERMS}
  for i in range(spec["steps"]):
    batch, draws = rt.reference_batch(ref, images, seed * 1000 + 100 + i, **spec["wrapper"])
    out.update(_batch_arrays(f"batch{i}/", batch, draws))
    torch.manual_seed(seed * 1000 + 200 + i)
    terms, noise = rt.stage2_step(ref, model, discriminator, m_optimizer, d_optimizer, percept_fn, batch)
    out[f"batch{i}/noise"] = noise.numpy()
    for name, value in terms.items():
      losses[name].append(value)
    if i == 0:
      out.update({f"grad0/{k}": v for k, v in rt.grads_of(model).items()})
      out.update({f"d_grad0/{k}": v for k, v in rt.grads_of(discriminator).items() if k.startswith(kept)})
  out.update({f"loss/{name}": np.array(values) for name, values in losses.items()})
  out.update({f"final/{k}": v for k, v in rt.state_dict_of(model).items()})
  out.update({f"d_final/{k}": v for k, v in rt.state_dict_of(discriminator).items()
              if k.startswith(kept) or k.endswith(("weight_u", "weight_v"))})
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--reference", required=True, help="a checkout of novwaul/LIIFusion")
  parser.add_argument("out", type=pathlib.Path, help="folder for the .npz files (made if absent)")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  vgg_seed = 1000 + args.seed
  ref = reference_code.import_reference(args.reference, vgg_seed=vgg_seed)
  files = forward_files(ref, args.seed)
  images = photographs()
  files["train1"] = train1(ref, images, args.seed)
  files["train2"] = train2(ref, images, args.seed, vgg_seed)
  args.out.mkdir(parents=True, exist_ok=True)
  for name, arrays in files.items():
    np.savez(args.out / f"{name}.npz", **arrays)
    print(f"{args.out / name}.npz: {len(arrays)} arrays")


if __name__ == "__main__":
  main()
