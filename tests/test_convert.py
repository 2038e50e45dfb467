"""`python -m liifusion_jax.convert`: reference state_dicts -> orbax checkpoints that load back exactly."""
import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from conftest import REPO
from liifusion_jax.checkpoints.run import load_params
from liifusion_jax.convert import discriminator_params_from_state_dict, params_from_state_dict, stage_of
from liifusion_jax.convert.__main__ import main
from liifusion_jax.models.discriminator import SPECTRAL
from liifusion_jax.train import loop
from train_helpers import tiny_config


@pytest.mark.parametrize("name", ["stage1", "stage2"])
def test_cli_writes_loadable_checkpoint(golden, golden_path, name, tmp_path):
  assert main([str(golden_path(name)), str(tmp_path / "ckpt")]) == 0
  params, meta = load_params(tmp_path / "ckpt", expected_stage=name)
  assert meta["stage"] == name
  sd = {k[3:]: v for k, v in golden(name).items() if k.startswith("sd/")}
  stage, expected = params_from_state_dict(sd)
  assert stage == name == stage_of(sd)
  for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(expected), strict=True):
    np.testing.assert_array_equal(np.asarray(a), b)
  assert main([str(golden_path(name)), str(tmp_path / "ckpt")]) == 1  # no overwrite


def test_cli_reports_bad_input(tmp_path, capsys):
  assert main([str(tmp_path / "missing.pth"), str(tmp_path / "out")]) == 1
  assert "no such file" in capsys.readouterr().err
  np.savez(tmp_path / "partial.npz", **{"sd/encoder.head.0.weight": np.zeros((64, 3, 3, 3))})
  assert main([str(tmp_path / "partial.npz"), str(tmp_path / "out")]) == 1
  assert "missing" in capsys.readouterr().err


def test_cli_refuses_weights_of_another_shape(golden, tmp_path, capsys):
  arrays = dict(golden("stage1"))
  arrays["sd/encoder.head.0.weight"] = arrays["sd/encoder.head.0.weight"][:32]  # 32 of 64 filters
  np.savez(tmp_path / "narrow.npz", **arrays)
  assert main([str(tmp_path / "narrow.npz"), str(tmp_path / "out")]) == 1
  err = capsys.readouterr().err
  assert "do not fit the model: ['encoder']['head']['kernel'] is (3, 3, 3, 32)" in err, err
  assert not (tmp_path / "out").exists()


def test_stage2_with_discriminator_becomes_a_run_that_train_continues(golden, tmp_path, capsys):
  """G and D of a reference stage-2 file -> a step-0 training state; training resumes it without
  init_from and moves on from the converted weights."""
  arrays = {k: v for k, v in golden("stage2").items() if k.startswith("sd/")}
  arrays.update({f"discriminator/{k[3:]}": v for k, v in golden("discriminator").items()
                 if k.startswith("sd/")})
  np.savez(tmp_path / "ref.npz", **arrays)
  out = tmp_path / "run"
  assert main([str(tmp_path / "ref.npz"), str(out), "--config", f"{REPO}/configs/stage2.py:quick"]) == 0
  assert "training state" in capsys.readouterr().out
  saved = ocp.StandardCheckpointer().restore((out / "checkpoints/0/state").absolute())
  _, g_params = params_from_state_dict({k[3:]: v for k, v in arrays.items() if k.startswith("sd/")})
  d_vars = discriminator_params_from_state_dict(
      {k[len("discriminator/"):]: v for k, v in arrays.items() if k.startswith("discriminator/")})
  disc = saved["discriminator"]
  for got, expected in ((saved["params"], g_params), (disc["params"], d_vars["params"]),
                        (disc["spectral"], d_vars[SPECTRAL])):
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected), strict=True):
      np.testing.assert_array_equal(np.asarray(a), b)

  state = loop.train(tiny_config("stage2", 1, "init_from="), out)  # a fresh state would need init_from
  assert int(state.step) == 2
  assert "resumed from" in capsys.readouterr().out
  frozen = state.params["prior_encoder"]  # carried untouched from the converted weights
  for a, b in zip(jax.tree.leaves(frozen), jax.tree.leaves(g_params["prior_encoder"]), strict=True):
    np.testing.assert_array_equal(np.asarray(a), b)
