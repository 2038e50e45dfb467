"""The network's sizes as config keys: `model.n_feats`, `n_resblocks`, `prior_dim`, `decoder_hidden`."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cli_helpers import smooth_photo
from conftest import REPO
from liifusion_jax.checkpoints.errors import CheckpointError
from liifusion_jax.checkpoints.run import load_params
from liifusion_jax.cli import train as cli
from liifusion_jax.config import apply_overrides, load_config
from liifusion_jax.data.images import normalise
from liifusion_jax.inference.chunked_decode import query_grid, to_image
from liifusion_jax.inference.upscaler import Upscaler
from liifusion_jax.models.factory import build_model, complete_model_config
from liifusion_jax.train import loop
from train_helpers import TINY

NARROW = {"n_feats": 16, "n_resblocks": 2, "prior_dim": 32, "decoder_hidden": 24}


@pytest.mark.parametrize("stage", ["stage1", "stage2"])
def test_config_sizes_are_the_networks_defaults(stage):
  """The configs state every setting of the network, at the reference's sizes (the golden parity
  tests build the default network)."""
  model = load_config(stage).model.to_dict()
  assert model == complete_model_config(stage, {})
  assert {k: model[k] for k in NARROW} == {"n_feats": 64, "n_resblocks": 16, "prior_dim": 256,
                                           "decoder_hidden": 256}


def test_a_narrow_model_from_config_keys():
  """The overridden keys reach every module: the arrays have the narrow sizes (no compile here; the
  slow test below trains and runs one)."""
  config = apply_overrides(load_config("stage2"), [f"model.{k}={v}" for k, v in NARROW.items()])
  model = build_model("stage2", config.model)
  lr, coord, cell = jnp.zeros((1, 8, 8, 3)), jnp.zeros((1, 5, 2)), jnp.full((1, 5, 2), 0.125)
  shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), lr, coord, cell, jnp.zeros((1, 32)))["params"]
  assert shapes["encoder"]["head"]["kernel"].shape == (3, 3, 3, 16)
  assert "block_1_conv_1" in shapes["encoder"] and "block_2_conv_0" not in shapes["encoder"]
  assert shapes["condition_encoder"]["fc_1"]["kernel"].shape == (32, 32)
  assert shapes["prior_generator"]["model"]["resmlp_0"]["kernel"].shape == (65, 32)
  assert shapes["prior_injector"]["block_0"]["kernel"]["kernel"].shape == (32, 32)
  assert shapes["decoder"]["hidden_0"]["kernel"].shape == (24, 24)


@pytest.mark.slow
def test_a_narrow_model_trains_and_upscales_from_config_keys(tmp_path):
  """`--config.model.KEY=...` from train.py's command line to the checkpoint's arrays and an upscale."""
  sizes = [f"--config.model.{k}={v}" for k, v in NARROW.items()]
  assert cli.main(["--config", f"{REPO}/configs/stage1.py:quick", "--workdir", str(tmp_path),
                   "--config.init_from=", "--config.epochs=1", *(f"--config.{o}" for o in TINY), *sizes]) == 0
  params, meta = load_params(tmp_path)
  assert {k: meta["config"]["model"][k] for k in NARROW} == NARROW
  assert params["encoder"]["head"]["kernel"].shape == (3, 3, 3, 16)
  assert "block_1_conv_1" in params["encoder"] and "block_2_conv_0" not in params["encoder"]
  assert params["prior_encoder"]["fc_1"]["kernel"].shape == (32, 32)
  assert params["prior_injector"]["block_0"]["kernel"]["kernel"].shape == (32, 32)
  assert params["decoder"]["hidden_0"]["kernel"].shape == (24, 24)
  hr = smooth_photo(24, 20).astype(np.float32) / 255
  lr = hr[::2, ::2]
  out = Upscaler.from_checkpoint(tmp_path)(lr, (24, 20), hr01=hr)
  coord, cell = query_grid(24, 20)  # the narrow network applied at once, as the reference computes
  pred = build_model("stage1", meta["config"]["model"]).apply(
      {"params": params}, normalise(lr[None]), normalise(hr[None]), coord, cell)
  np.testing.assert_allclose(out, to_image(np.asarray(pred), 24, 20)[0], rtol=0, atol=1e-5)


def test_resume_takes_a_checkpoint_saved_before_the_sizes_were_keys():
  """A checkpoint whose config lacks the size keys was the reference's sizes: it resumes; one of
  another size does not."""
  config = load_config("stage1")
  guard = loop._resume_guard(config)
  saved = config.to_dict()
  saved["model"] = {k: v for k, v in saved["model"].items() if k not in NARROW}
  guard({"config": saved}, "old")
  saved["model"]["n_feats"] = 32
  with pytest.raises(CheckpointError, match=r"model\.n_feats \(32 -> 64\)"):
    guard({"config": saved}, "other")
