"""`python -m liifusion_jax.convert`: reference state_dicts -> orbax checkpoints that load back exactly."""
import jax
import numpy as np
import pytest

from liifusion_jax.checkpoints import load_params
from liifusion_jax.convert import params_from_state_dict, stage_of
from liifusion_jax.convert.__main__ import main


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
