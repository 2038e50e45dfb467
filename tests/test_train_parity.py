"""Training parity with the reference's own `train_stage1` / `train_stage2` (golden train1.npz, train2.npz).

From the reference's initial weights (through our converters) and its wrapper's recorded random draws
(through our sampler), our train steps must reproduce its batches, every loss term of every step, the
first step's gradients, the state after the last step (both networks, every spectral-norm vector) and
its learning rate in each of the paper's 1000 epochs. Tolerances, and why:
- batches: exactly equal (the same uint8 pixels through the same PIL resize and float32 arithmetic);
- losses: 1e-5 relative (float32 summation order; the worst seen is 2.5e-6);
- gradients, leaf by leaf: error norm <= 1e-4 of the leaf's norm + 1e-6 of its module's (median seen
  3.6e-5 of the leaf's norm). The second term is for near-cancelling sums: the relative-position bias
  of the window attention gathers a softmax gradient that sums to zero per row, and its tiny norm is
  matched to 3.2e-4 of itself (1e-8 of the injector's gradient);
- params after n Adam steps at rate lr: Adam moves an element by about lr a step whatever the size of
  its gradient, so rounding flips the step of an element whose gradient is near zero (the lesson of
  the multi-device test). Where the first gradient is sure of its sign (above 5% of its leaf's RMS),
  each element within 5% of lr * n (worst seen 2%); each leaf's whole update within 2% (norm) of the
  reference's (worst seen 0.4%);
- power-iteration vectors u, v: 1e-5 absolute (unit vectors; no Adam in between).
The broken variants at the end show that these checks fail where training differs.
"""
import dataclasses
import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from liifusion_jax.config import apply_overrides, load_config
from liifusion_jax.convert import params_from_state_dict
from liifusion_jax.convert.discriminator import discriminator_params_from_state_dict
from liifusion_jax.data import sampler
from liifusion_jax.losses import gan
from liifusion_jax.models.discriminator import SPECTRAL
from liifusion_jax.train import stage2 as stage2_module
from liifusion_jax.train.stage1 import Stage1
from liifusion_jax.train.stage2 import FROZEN, REFERENCE_TERMS, Stage2, split_frozen
from liifusion_jax.train.state import TrainState, lr_schedule

from conftest import REPO

LOSS_RTOL = 1e-5
GRAD_RTOL, GRAD_MODULE_RTOL = 1e-4, 1e-6
STEP_FRACTION, UPDATE_RTOL, SURE_SIGN = 0.05, 0.02, 0.05
UV_ATOL = 1e-5
KEPT_D_LAYERS = ("conv0", "conv8", "conv9")  # the discriminator layers whose grads/params are stored
# One bucket holds every crop of a fixture (16 * 4 = 64, 48 * 4 = 192): one compile per stage.
BUCKET = {"stage1": 64, "stage2": 192}
PATCH = {"stage1": 16, "stage2": 48}
GOLDEN = {"stage1": "train1", "stage2": "train2"}


def _state_dict(g, prefix):
  return {k[len(prefix):]: v for k, v in g.items() if k.startswith(prefix)}


def batch_from_draws(g, i, stage):
  """Our training batch i, cut by the sampler's own functions from the recorded draws (uint8 photos,
  as a training folder gives them)."""
  patch = PATCH[stage]
  images = np.round(np.transpose(g["hr_images"], (0, 2, 3, 1)) * 255).astype(np.uint8)
  assert g[f"batch{i}/draws_kind"][0] == "uniform"
  choices = [g[f"batch{i}/choice{j}"] for j in range(len(images)) if f"batch{i}/choice{j}" in g]
  scale, draws = sampler.reference_draws(g[f"batch{i}/draws_value"], choices, patch=patch,
                                         sample_patch=stage == "stage2")
  crop = sampler.crop_size(patch, scale)
  samples = [sampler.cut_sample(image, d, patch=patch, crop=crop) for image, d in zip(images, draws)]
  return sampler.assemble_batch(samples, scale, BUCKET[stage])


def _nhwc(x):
  return np.transpose(x, (0, 2, 3, 1))


def check_batches(g, stage):
  for i in range(int(g["steps"])):
    batch = batch_from_draws(g, i, stage)
    crop = g[f"batch{i}/ref"].shape[-1]
    ours = {"inp": batch["inp"], "ref": batch["hr"][:, :crop, :crop], "coord": batch["coord"],
            "cell": batch["cell"], "gt": batch["gt"]}
    for name, value in ours.items():
      ref = g[f"batch{i}/{name}"]
      ref = _nhwc(ref) if ref.ndim == 4 else ref
      np.testing.assert_array_equal(value, ref, err_msg=f"batch {i} {name}")


@pytest.mark.parametrize("stage", ["stage1", "stage2"])
def test_batches_match_the_reference_wrapper(golden, stage):
  check_batches(golden(GOLDEN[stage]), stage)


def test_batch_check_fails_with_the_flips_in_another_order(golden, monkeypatch):
  """Broken variant (e): the transpose before the flips."""
  def transpose_first(x, flips):
    hflip, vflip, dflip = flips
    x = x.transpose(1, 0, 2) if dflip else x
    return np.ascontiguousarray(x[::-1 if hflip else 1, ::-1 if vflip else 1])

  monkeypatch.setattr(sampler, "apply_flips", transpose_first)
  with pytest.raises(AssertionError, match="inp"):
    check_batches(golden("train1"), "stage1")


def check_grads(ours, ref):
  """Leaf by leaf (see the module docstring), both trees in our layout."""
  for module in ref:
    module_norm = np.sqrt(sum(np.sum(np.square(x)) for x in jax.tree.leaves(ref[module])))
    flat_ours = jax.tree_util.tree_flatten_with_path(ours[module])[0]
    for (path, a), b in zip(flat_ours, jax.tree.leaves(ref[module]), strict=True):
      a, b = np.asarray(a), np.asarray(b)
      err = np.linalg.norm(a - b)
      bound = GRAD_RTOL * np.linalg.norm(b) + GRAD_MODULE_RTOL * module_norm
      assert err <= bound, f"grad {module}{jax.tree_util.keystr(path)}: error {err:.3g} > {bound:.3g}"


def check_params(ours, ref, init, ref_grad, lr, steps):
  """Params after `steps` Adam steps at rate `lr` (see the module docstring)."""
  travel = lr * steps
  for module in ref:
    flat_ours = jax.tree_util.tree_flatten_with_path(ours[module])[0]
    leaves = zip(flat_ours, *(jax.tree.leaves(t[module]) for t in (ref, init, ref_grad)), strict=True)
    for (path, a), b, p0, g0 in leaves:
      a, b, p0, g0 = (np.asarray(x, np.float64) for x in (a, b, p0, g0))
      name = f"{module}{jax.tree_util.keystr(path)}"
      sure = np.abs(g0) > SURE_SIGN * np.sqrt(np.mean(np.square(g0)))
      worst = np.max(np.abs(a - b)[sure], initial=0.0)
      assert worst <= STEP_FRACTION * travel, f"param {name}: off by {worst / travel:.3f} x lr x steps"
      update_err = np.linalg.norm((a - p0) - (b - p0)) / np.linalg.norm(b - p0)
      assert update_err <= UPDATE_RTOL, f"param {name}: update off by {update_err:.3g} (norm)"


def check_losses(ours, ref, name):
  np.testing.assert_allclose(ours, ref, rtol=LOSS_RTOL, atol=0, err_msg=name)


# -- stage 1 --------------------------------------------------------------------------------------


def run_stage1(g, *overrides):
  """(losses per step, first step's grads, final params, init params) of our stage-1 step on the
  fixture's batches, from its converted initial weights."""
  config = apply_overrides(load_config(f"{REPO}/configs/stage1.py"), list(overrides))
  task = Stage1(config, steps_per_epoch=1000)
  _, params = params_from_state_dict(_state_dict(g, "init/"), "stage1")
  params = jax.tree.map(jnp.asarray, params)
  state = task.state_of_weights(params)
  step = jax.jit(task.make_train_step(return_grads=True))
  losses = []
  for i in range(int(g["steps"])):
    state, metrics, grads = step(state, batch_from_draws(g, i, "stage1"), jax.random.PRNGKey(0))
    losses.append(float(metrics["loss"]))
    if i == 0:
      grads0 = grads
  return losses, grads0, state.params, params


def check_stage1(g, run):
  losses, grads0, final, init = run
  check_losses(losses, g["loss"], "stage-1 L1")
  init_sd = _state_dict(g, "init/")
  # The reference's grad0 lacks EDSR's unused mean-shift weights; the converter drops them anyway.
  ref_grads = params_from_state_dict({**init_sd, **_state_dict(g, "grad0/")}, "stage1")[1]
  check_grads(grads0, ref_grads)
  ref_final = params_from_state_dict(_state_dict(g, "final/"), "stage1")[1]
  check_params(final, ref_final, init, ref_grads, lr=1e-4, steps=int(g["steps"]))


@pytest.fixture(scope="module")
def stage1_run(golden):
  g = golden("train1")
  return g, run_stage1(g)


def test_stage1_steps_match_the_reference(stage1_run):
  check_stage1(*stage1_run)


def test_learning_rate_of_every_epoch_matches_the_reference(golden):
  """configs/stage1.py's schedule at DIV2K's 1000 steps per epoch (800 images x 20 / 16): the first
  and last step of each epoch at the reference's rate for that epoch."""
  config = load_config(f"{REPO}/configs/stage1.py")
  steps_per_epoch = 800 * config.data.repeat // config.batch_size
  assert steps_per_epoch == 1000
  schedule = lr_schedule(config.optim.lr, config.optim.milestones, config.optim.gamma, steps_per_epoch)
  epochs = np.arange(config.epochs)
  first = np.asarray(jax.vmap(schedule)(epochs * steps_per_epoch))
  last = np.asarray(jax.vmap(schedule)(epochs * steps_per_epoch + steps_per_epoch - 1))
  ref = golden("train1")["schedule/lr_by_epoch"]
  assert len(ref) == config.epochs
  np.testing.assert_allclose(first, ref, rtol=1e-6)
  np.testing.assert_allclose(last, ref, rtol=1e-6)


@pytest.mark.slow
def test_stage1_check_fails_with_the_learning_rate_doubled(golden):
  """Broken variant (d): the generator's learning rate 2e-4 instead of 1e-4."""
  g = golden("train1")
  with pytest.raises(AssertionError) as caught:
    check_stage1(g, run_stage1(g, "optim.lr=2e-4"))
  print("caught by:", str(caught.value).strip().splitlines()[:3])


# -- stage 2 --------------------------------------------------------------------------------------


@dataclasses.dataclass
class Stage2Run:
  losses: dict  # the reference's term name -> per-step values
  grads0: tuple  # (generator grads, discriminator grads) of the first step
  final: TrainState
  init_params: dict


def run_stage2(g, vgg_path, *overrides):
  """Our stage-2 step on the fixture's batches and noise, from its converted generator and
  discriminator, the perceptual loss's VGG19 read from a torchvision `.pth` as a user's is."""
  config = apply_overrides(load_config(f"{REPO}/configs/stage2.py"),
                           ["perceptual.kind=vgg19_pth", f"perceptual.path={vgg_path}", *overrides])
  task = Stage2(config, steps_per_epoch=1)
  _, params = params_from_state_dict(_state_dict(g, "init/"), "stage2")
  params = jax.tree.map(jnp.asarray, params)
  disc = jax.tree.map(jnp.asarray, discriminator_params_from_state_dict(_state_dict(g, "d_init/")))
  state = task.state_of_weights(params, disc)
  (vgg,) = task.load_step_constants()
  step = jax.jit(task.make_step_on_noise(return_grads=True))
  losses = {name: [] for name in REFERENCE_TERMS}
  for i in range(int(g["steps"])):
    state, metrics, grads = step(state, batch_from_draws(g, i, "stage2"), g[f"batch{i}/noise"], vgg)
    for name, ours in REFERENCE_TERMS.items():
      losses[name].append(float(metrics[ours]))
    if i == 0:
      grads0 = grads
  return Stage2Run(losses, grads0, state, params)


def check_stage2(g, run):
  for name, values in run.losses.items():
    check_losses(values, g[f"loss/{name}"], f"stage-2 {name}")
  g_grads, d_grads = run.grads0
  init_sd, d_init_sd = _state_dict(g, "init/"), _state_dict(g, "d_init/")
  ref_g_grads = split_frozen(params_from_state_dict({**init_sd, **_state_dict(g, "grad0/")},
                                                    "stage2")[1])[0]
  assert FROZEN not in g_grads, "the frozen prior encoder must get no gradient"
  check_grads(g_grads, ref_g_grads)
  ref_d_grads = discriminator_params_from_state_dict({**d_init_sd, **_state_dict(g, "d_grad0/")})["params"]
  kept = lambda tree: {name: tree[name] for name in KEPT_D_LAYERS}
  check_grads(kept(d_grads), kept(ref_d_grads))

  steps, lr = int(g["steps"]), 3e-5
  ref_final = split_frozen(params_from_state_dict(_state_dict(g, "final/"), "stage2")[1])[0]
  trainable, frozen = split_frozen(run.final.params)
  check_params(trainable, ref_final, split_frozen(run.init_params)[0], ref_g_grads, lr, steps)
  for a, b in zip(jax.tree.leaves(frozen), jax.tree.leaves(split_frozen(run.init_params)[1]), strict=True):
    np.testing.assert_array_equal(a, b, err_msg="the frozen prior encoder changed")
  ref_d_final = discriminator_params_from_state_dict({**d_init_sd, **_state_dict(g, "d_final/")})
  d_init = discriminator_params_from_state_dict(d_init_sd)["params"]
  check_params(kept(run.final.discriminator.params), kept(ref_d_final["params"]), kept(d_init),
               kept(ref_d_grads), lr, steps)
  for (path, a), b in zip(jax.tree_util.tree_flatten_with_path(run.final.discriminator.spectral)[0],
                          jax.tree.leaves(ref_d_final[SPECTRAL]), strict=True):
    np.testing.assert_allclose(a, b, rtol=0, atol=UV_ATOL, err_msg=f"power iteration {jax.tree_util.keystr(path)}")


@pytest.fixture(scope="module")
def vgg_path(tmp_path_factory, golden):
  """The fixture's VGG19, rebuilt from its seed as ../shared/README.md says, as a torchvision `.pth`."""
  pytest.importorskip("torch", reason="the VGG19 .pth is written with torch (the torch extra)")
  # The recipe make_golden.py's reference runs use (benchmarks/reference_code.py).
  spec = importlib.util.spec_from_file_location("reference_code", REPO / "benchmarks" / "reference_code.py")
  reference_code = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(reference_code)

  return reference_code.write_vgg19_pth(int(golden("train2")["vgg_seed"]),
                                        tmp_path_factory.mktemp("vgg") / "vgg19.pth")


@pytest.fixture(scope="module")
def stage2_run(golden, vgg_path):
  g = golden("train2")
  return g, run_stage2(g, vgg_path)


def test_stage2_steps_match_the_reference(stage2_run):
  check_stage2(*stage2_run)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["labels_swapped", "no_stop_gradient", "one_power_iteration"])
def test_stage2_check_fails_with_a_broken_step(golden, vgg_path, monkeypatch, variant):
  """Broken variants (a) the discriminator's labels swapped, (b) the discriminator loss's gradient
  reaching the generator through the prediction (what a missing stop-gradient does where both are
  differentiated together), (c) one power iteration per step instead of one per discriminator call."""
  g = golden("train2")
  if variant == "labels_swapped":
    def swapped(d, pred, gt):
      pred = jax.lax.stop_gradient(pred)
      return (gan.bce_with_logits(d(pred - jnp.mean(gt)), 1.0),
              gan.bce_with_logits(d(gt - jnp.mean(pred)), 0.0))
    monkeypatch.setattr(gan, "discriminator_gan_loss", swapped)
  elif variant == "no_stop_gradient":
    def leaking(d, pred, gt, weight):
      fake_logits, real_logits = d(pred - jnp.mean(gt)), d(gt - jnp.mean(pred))
      leak = gan.bce_with_logits(fake_logits, 0.0) + gan.bce_with_logits(real_logits, 1.0)
      fake = weight * gan.bce_with_logits(fake_logits, 1.0)
      # The same values and power iterations; only the gradient gains the discriminator loss's.
      return fake + leak - jax.lax.stop_gradient(leak), weight * gan.bce_with_logits(real_logits, 0.0)
    monkeypatch.setattr(gan, "generator_gan_loss", leaking)
  else:
    discriminator = stage2_module._discriminator
    calls = []

    def once_per_step(disc, d_params, spectral):
      d, state = discriminator(disc, d_params, spectral)

      def first_call_only(x):
        calls.append(x.shape)
        if len(calls) == 1:
          return d(x)
        return disc.apply({"params": d_params, SPECTRAL: state[SPECTRAL]}, x, update_stats=False)
      return first_call_only, state
    monkeypatch.setattr(stage2_module, "_discriminator", once_per_step)
  with pytest.raises(AssertionError) as caught:
    check_stage2(g, run_stage2(g, vgg_path))
  print("caught by:", str(caught.value).strip().splitlines()[:3])
