"""The reference PyTorch LIIFusion timed on the same shapes as train_step.py and infer.py, side by side.

  python benchmarks/reference_torch.py --reference ../LIIFusion stage1 --batch 4
  python benchmarks/reference_torch.py --reference ../LIIFusion pieces --batch 4
  python benchmarks/reference_torch.py --reference ../LIIFusion stage2 --lr-size 128x128 --scale 4
  python benchmarks/reference_torch.py --reference ../LIIFusion stage2-step --batch 4

Needs PyTorch and a checkout of the reference repository (novwaul/LIIFusion) at --reference; it
imports the reference from there (`reference_code.import_reference`), nothing is copied here (its
`models/__init__.py` imports `mlp`, LIIF's `models/mlp.py`: add that file from LIIF if the checkout
lacks it). Random weights and inputs: the speed does not depend on them. `stage1` times forward + L1
+ backward + Adam on a batch of LR patches (48 x 48) and HR crops (patch * scale) with patch^2
queries; `pieces` times the same step split as pieces.py splits ours (forward, and forward +
backward, of each network); `stage2-step` times the reference's own `train_stage2` on one batch (the
joint step: stage-2 model forward with the frozen prior encoder on HR, L1 + diffusion + GAN +
perceptual (VGG19, seeded weights) losses, backward, Adam; then the discriminator's forward, backward
and Adam), with `sample_patch` queries (a patch x patch square of the HR crop) as stage-2 training
has them; `stage2` times the reference test.py's `batched_predict` (features once,
then queries in chunks) of one LR image. Prints one JSON line like the other benchmarks; it runs
where PyTorch is and JAX may not be, so it takes its timed loop from the JAX-free `repeat_timing`,
not from bench_common.
"""
import argparse
import json
import resource
import statistics

import torch
from torch.utils.flop_counter import FlopCounterMode

import reference_code
import reference_training
import repeat_timing
from reference_training import DECODER, ENCODER


def timed(fn, repeats, warmup=1, count_flops=False):
  """Medians of `repeats` calls after `warmup`; with `count_flops`, also the GFLOP of one more call
  as torch's FlopCounterMode counts them (matmuls and convolutions, forward and backward)."""
  for _ in range(warmup):
    fn()
  times, cpu_times = repeat_timing.repeat(fn, repeats)
  result = {"median_s": round(statistics.median(times), 4), "min_s": round(min(times), 4),
            "times_s": [round(t, 4) for t in times],
            "cpu_median_s": round(statistics.median(cpu_times), 4)}
  if count_flops:
    with FlopCounterMode(display=False) as counter:
      fn()
    result["gflop"] = round(counter.get_total_flops() / 1e9, 1)
  return result


def stage1_model_and_batch(models, make_coord, batch, patch, scale):
  """The reference stage-1 model in train mode, and a batch: LR, HR crops, queries, cells, GT."""
  model = models.make({"name": "liifusion_stage1", "args": {"encoder_spec": ENCODER, "imnet_spec": DECODER}})
  model.train()
  crop = round(patch * scale)
  lr, hr = torch.rand(batch, 3, patch, patch) * 2 - 1, torch.rand(batch, 3, crop, crop) * 2 - 1
  queries = torch.stack([torch.randperm(crop * crop)[:patch * patch] for _ in range(batch)])
  coord = make_coord((crop, crop))[queries]
  cell = torch.full_like(coord, 2 / crop)
  gt = torch.rand(batch, patch * patch, 3) * 2 - 1
  return model, (lr, hr, coord, cell, gt)


def stage2_step(reference, batch, patch, scale, repeats):
  """`train_stage2` of the reference on one random batch (`reference_training.stage2_step`)."""
  model, discriminator = reference_training.stage2_models(reference)
  m_optimizer = reference_training.adam(reference, model.parameters(), 1e-4)
  d_optimizer = reference_training.adam(reference, discriminator.parameters(), 1e-4)
  percept_fn = reference.utils.PerceptualLoss()
  crop = round(patch * scale)
  top, left = torch.randint(0, crop - patch + 1, (2,)).tolist()
  coord = reference.utils.make_coord((crop, crop)).view(crop, crop, 2)[top:top + patch, left:left + patch]
  coord = coord.reshape(1, -1, 2).repeat(batch, 1, 1)
  data = {"inp": torch.rand(batch, 3, patch, patch), "ref": torch.rand(batch, 3, crop, crop),
          "coord": coord, "cell": torch.full_like(coord, 2 / crop), "gt": torch.rand(batch, patch * patch, 3)}
  return timed(lambda: reference_training.stage2_step(reference, model, discriminator, m_optimizer,
                                                     d_optimizer, percept_fn, data), repeats,
               count_flops=True)


def stage1_step(models, make_coord, batch, patch, scale, repeats):
  model, (lr, hr, coord, cell, gt) = stage1_model_and_batch(models, make_coord, batch, patch, scale)
  optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

  def step():
    loss = torch.nn.functional.l1_loss(model(lr, hr, coord, cell), gt)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

  return timed(step, repeats, count_flops=True)


def stage1_pieces(models, make_coord, batch, patch, scale, repeats):
  """pieces.py's split of a stage-1 step, on the reference: each piece's forward, and its forward +
  backward of the output's sum to the params (inputs computed once beforehand, no grad to them)."""
  model, (lr, hr, coord, cell, _) = stage1_model_and_batch(models, make_coord, batch, patch, scale)
  with torch.no_grad():
    feat = model.encoder(lr)
    upsampled = torch.nn.functional.interpolate(lr, size=hr.shape[-2:], mode="bicubic")
    prior_in = torch.cat((hr, upsampled), 1)
    prior = model.prior_encoder(prior_in)
    injected = model.prior_injector(feat, prior)

  def decode():
    model.feat = injected
    return model.query_rgb(coord, cell)

  pieces = {
      "features": lambda: model.encoder(lr),
      "prior": lambda: model.prior_encoder(prior_in),
      "inject": lambda: model.prior_injector(feat, prior),
      "decode": decode,
      "whole": lambda: model(lr, hr, coord, cell),
  }
  results = {}
  for name, piece in pieces.items():
    def forward():
      with torch.no_grad():
        piece()

    def grad():
      model.zero_grad()
      piece().sum().backward()

    for kind, fn in (("forward", forward), ("grad", grad)):
      timing = timed(fn, repeats)
      results[f"{name}_{kind}_s"] = timing["median_s"]
      results[f"{name}_{kind}_cpu_s"] = timing["cpu_median_s"]
  return results


def stage2_inference(models, make_coord, lr_hw, scale, chunk, repeats):
  model = models.make({"name": "liifusion_stage2", "args": {"encoder_spec": ENCODER, "imnet_spec": DECODER}})
  model.eval()
  out_hw = tuple(round(n * scale) for n in lr_hw)
  lr, hr = torch.rand(1, 3, *lr_hw) * 2 - 1, torch.zeros(1, 3, *out_hw)  # stage 2 reads only HR's size
  coord = make_coord(out_hw)[None]
  cell = torch.ones_like(coord) * torch.tensor([2 / out_hw[0], 2 / out_hw[1]])

  def upscale():
    with torch.no_grad():
      model.gen_feat(lr, hr)
      preds = [model.query_rgb(coord[:, i:i + chunk], cell[:, i:i + chunk])
               for i in range(0, coord.shape[1], chunk)]
      return torch.cat(preds, dim=1)

  return timed(upscale, repeats)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--reference", required=True, help="checkout of the reference repository")
  parser.add_argument("what", choices=("stage1", "pieces", "stage2", "stage2-step"))
  parser.add_argument("--batch", type=int, default=4)
  parser.add_argument("--patch", type=int, default=48)
  parser.add_argument("--lr-size", default="128x128")
  parser.add_argument("--scale", type=float, default=None,
                      help="default 2.5 (stage1, pieces, stage2-step) or 4 (stage2)")
  parser.add_argument("--chunk", type=int, default=30000)
  parser.add_argument("--repeats", type=int, default=3)
  args = parser.parse_args()

  reference = reference_code.import_reference(args.reference)
  models, make_coord = reference.models, reference.utils.make_coord

  torch.manual_seed(0)
  if args.what in ("stage1", "pieces"):
    scale = args.scale or 2.5
    run = stage1_step if args.what == "stage1" else stage1_pieces
    result = run(models, make_coord, args.batch, args.patch, scale, args.repeats)
    result.update(batch=args.batch, patch=args.patch, scale=scale)
  elif args.what == "stage2-step":
    scale = args.scale or 2.5
    result = stage2_step(reference, args.batch, args.patch, scale, args.repeats)
    result.update(batch=args.batch, patch=args.patch, scale=scale)
  else:
    scale = args.scale or 4.0
    lr_hw = tuple(int(v) for v in args.lr_size.split("x"))
    result = stage2_inference(models, make_coord, lr_hw, scale, args.chunk, args.repeats)
    result.update(lr_size=list(lr_hw), scale=scale, chunk=args.chunk)
  print(json.dumps({"benchmark": f"reference_{args.what}", **result, "torch": torch.__version__,
                    "threads": torch.get_num_threads(),
                    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


if __name__ == "__main__":
  main()
