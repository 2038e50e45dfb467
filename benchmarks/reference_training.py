"""The reference's training, one batch at a time: its data wrapper with every random draw recorded, and
its own `train_stage1` / `train_stage2` called on one batch (see reference_code.import_reference).

The recorded draws are what tests/test_train_parity.py feeds our sampler (`draws_kind`,
`draws_value`, `choice{j}`, as ../shared/README.md describes them); the batches are in the
reference's layout (NCHW, images in [0, 1] before its (x - 0.5) / 0.5).
"""
import contextlib
import random

import numpy as np
import torch

ENCODER = {"name": "edsr-baseline", "args": {"no_upsampling": True}}
DECODER = {"name": "mlp", "args": {"out_dim": 3, "hidden_list": [256, 256, 256, 256]}}
DATA_NORM = {"inp": {"sub": [0.5], "div": [0.5]}, "gt": {"sub": [0.5], "div": [0.5]}}
STAGE2_TERMS = ("m_loss", "rec", "diff", "real", "fake", "percept", "d_loss", "d_real", "d_fake")


class RecordedDraws:
  """Python's `random` and numpy's `np.random.choice` as the wrapper calls them, seeded, each draw
  recorded: `kinds`, `values` (the scale, corners, flips, patch corners) and `choices` (index arrays)."""

  def __init__(self, seed):
    self._py, self._np = random.Random(seed), np.random.RandomState(seed)
    self.kinds, self.values, self.choices = [], [], []

  def _record(self, kind, value):
    self.kinds.append(kind)
    self.values.append(float(value))
    return value

  def uniform(self, a, b):
    return self._record("uniform", self._py.uniform(a, b))

  def randint(self, a, b):
    return self._record("randint", self._py.randint(a, b))

  def random(self):
    return self._record("random", self._py.random())

  def choice(self, n, size, replace=True):
    chosen = self._np.choice(n, size, replace=replace)
    self.choices.append(chosen)
    return chosen

  def arrays(self, prefix):
    """The draws as fixture arrays under `prefix` (e.g. 'batch0/')."""
    out = {f"{prefix}draws_kind": np.array(self.kinds), f"{prefix}draws_value": np.array(self.values)}
    out.update({f"{prefix}choice{j}": c for j, c in enumerate(self.choices)})
    return out


class _NumpyWithRecordedChoice:
  """numpy, but `np.random.choice` is the recorder's (the wrapper's only numpy draw)."""

  def __init__(self, draws):
    self.random = draws

  def __getattr__(self, name):
    return getattr(np, name)


def reference_batch(ref, images, seed, **wrapper_args):
  """(batch, draws) of the reference's `sr-implicit-downsampled` wrapper on `images` (CHW float
  tensors in [0, 1], one batch of all of them), its draws from `seed`."""
  draws = RecordedDraws(seed)
  wrapper = ref.wrappers.SRImplicitDownsampled(images, batch_size=len(images), **wrapper_args)
  with _patched(ref.wrappers, random=draws, np=_NumpyWithRecordedChoice(draws)):
    batch = wrapper[0]
  return batch, draws


@contextlib.contextmanager
def _patched(module, **attributes):
  saved = {name: getattr(module, name) for name in attributes}
  for name, value in attributes.items():
    setattr(module, name, value)
  try:
    yield
  finally:
    for name, value in saved.items():
      setattr(module, name, value)


@contextlib.contextmanager
def recorded_noise(noise=None):
  """`torch.randn_like` recorded (the list yielded gets each z_T), or, given `noise`, returning it."""
  calls, original = [], torch.randn_like

  def randn_like(x, *args, **kwargs):
    z = noise.clone() if noise is not None else original(x, *args, **kwargs)
    calls.append(z.clone())
    return z

  torch.randn_like = randn_like
  try:
    yield calls
  finally:
    torch.randn_like = original


def _one_batch_loader(batch):
  return [{k: v[None] for k, v in batch.items()}]  # the loader's batch of 1 wrapper item


def stage1_model(ref):
  return ref.models.make({"name": "liifusion_stage1", "args": {"encoder_spec": ENCODER, "imnet_spec": DECODER}})


def stage2_models(ref):
  model = ref.models.make({"name": "liifusion_stage2", "args": {"encoder_spec": ENCODER, "imnet_spec": DECODER}})
  return model, ref.models.make({"name": "discriminator", "args": {"num_in_ch": 3}})


def adam(ref, params, lr):
  return ref.utils.make_optimizer(params, {"name": "adam", "args": {"lr": lr}})


def stage1_step(ref, model, optimizer, batch):
  """The reference's `train_stage1` on one batch: its L1 loss before the update."""
  ref.train.config = {"data_norm": DATA_NORM}
  return ref.train.train_stage1(_one_batch_loader(batch), model, optimizer)


def stage2_step(ref, model, discriminator, m_optimizer, d_optimizer, percept_fn, batch, noise=None):
  """The reference's `train_stage2` on one batch: ({term: value before the updates}, z_T used);
  z_T is `noise` where given, else drawn by the reference."""
  ref.train.config = {"data_norm": DATA_NORM}
  with recorded_noise(noise) as calls:
    terms = ref.train.train_stage2(_one_batch_loader(batch), model, discriminator, m_optimizer,
                                   d_optimizer, percept_fn)
  return dict(zip(STAGE2_TERMS, terms)), calls[0]


def lr_by_epoch(lr, milestones, gamma, epochs):
  """The rate of each epoch under the reference's MultiStepLR, stepped once per epoch as train.py does."""
  optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=lr)
  scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(milestones), gamma=gamma)
  rates = []
  for _ in range(epochs):
    rates.append(optimizer.param_groups[0]["lr"])
    optimizer.step()
    scheduler.step()
  return np.array(rates)


def grads_of(module):
  """{name: gradient} of the params that have one (the frozen prior encoder's have none)."""
  return {k: p.grad.detach().numpy().copy() for k, p in module.named_parameters() if p.grad is not None}


def state_dict_of(module):
  return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}
