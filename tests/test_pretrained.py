"""Inference files and the bundled models: export, load by name or path, defaults of the CLIs."""
import json

import jax
import numpy as np
import pytest

from liifusion_jax.checkpoints import inference_file
from liifusion_jax.checkpoints.errors import CheckpointError
from liifusion_jax.checkpoints.inference_file import load_inference_file, save_inference_file
from liifusion_jax.checkpoints.run import load_params, save_params
from liifusion_jax.inference.upscaler import Upscaler
from liifusion_jax.pretrained import export
from cli_helpers import exit_status
from random_checkpoints import random_params, write_checkpoint


def _leaves_equal(a, b, **tolerance):
  assert jax.tree.structure(a) == jax.tree.structure(b)
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), **tolerance)


def test_inference_file_round_trip_in_16_bits(tmp_path):
  params = random_params("stage2")
  meta = {"stage": "stage2", "config": {"model": {}}, "provenance": {"steps": 3}}
  save_inference_file(tmp_path / "m.npz", params, meta)
  loaded, loaded_meta = load_inference_file(tmp_path / "m.npz")
  assert loaded_meta == meta
  assert "prior_encoder" not in loaded  # only training used stage 2's HR prior encoder
  expected = {k: v for k, v in params.items() if k != "prior_encoder"}
  _leaves_equal(loaded, jax.tree.map(lambda a: a.astype(np.float16).astype(np.float32), expected), rtol=0)
  assert all(leaf.dtype == np.float32 for leaf in jax.tree.leaves(loaded))
  _leaves_equal(loaded, expected, rtol=1e-3, atol=1e-6)


def test_export_cli_records_provenance(tmp_path, capsys):
  run = write_checkpoint(tmp_path / "run", "stage1")
  rows = [{"step": 10, "loss": 0.5, "sec_per_step": 0.5}, {"step": 10, "val_psnr_x2": 20.0},
          {"step": 20, "loss": 0.4, "sec_per_step": 0.25}]
  torn = '{"step": 30, "loss": 0.3, "sec_per'  # a crash in the middle of writing the last row
  (tmp_path / "run" / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + torn)
  out = tmp_path / "stage1.npz"
  assert export.main([run, str(out), "--dtype", "float32", "--commit", "abc", "--wall-seconds", "7"]) == 0
  assert "the last line is incomplete" in capsys.readouterr().out
  params, meta = load_params(out, expected_stage="stage1")
  _leaves_equal(params, random_params("stage1"), rtol=0)  # float32 storage is exact
  record = meta["provenance"]
  assert (record["steps"], record["step_seconds"], record["commit"], record["wall_seconds"]) == (0, 7.5, "abc", 7)
  assert record["data"] == "scikit-image's built-in photographs"
  assert meta["config"]["eval_chunk"] == 4096
  assert exit_status(export.main, [run, str(out)]) == 1  # an existing file is kept without --overwrite
  assert load_params(out)[1] == meta


def test_provenance_names_every_training_folder():
  data = {"train_dir": "/d/DIV2K_train_HR,/d/Flickr2K_HR", "builtin_photos": True}
  assert export.training_data(data) == "DIV2K_train_HR + Flickr2K_HR + scikit-image's built-in photographs"


@pytest.mark.parametrize("name", inference_file.PRETRAINED_NAMES)
def test_bundled_models_load_by_name(name):
  params, meta = load_params(inference_file.PRETRAINED + name, expected_stage=name)
  record = meta["provenance"]
  assert record["steps"] > 0 and "SunHays80" in record["data"] and record["commit"]
  assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(params))
  with pytest.raises(CheckpointError, match="is a"):
    load_params(inference_file.PRETRAINED + name, expected_stage=({"stage1", "stage2"} - {name}).pop())


def test_bundled_stage2_upscales_better_than_noise():
  upscaler = Upscaler.pretrained("stage2")
  rng = np.random.default_rng(0)
  lr = np.clip(np.cumsum(rng.normal(0, 0.05, (12, 16, 3)), axis=1) + 0.5, 0, 1).astype(np.float32)
  sr = upscaler(lr, (24, 32), seed=0)
  assert sr.shape == (24, 32, 3) and upscaler.stage == "stage2"
  # A trained model keeps the image: its 2x2 means stay close to the LR pixels.
  pooled = sr.reshape(12, 2, 16, 2, 3).mean(axis=(1, 3))
  assert np.abs(pooled - lr).mean() < 0.05


def test_unknown_or_missing_inference_files(tmp_path):
  with pytest.raises(CheckpointError, match="unknown bundled model 'pretrained:stage3'"):
    load_params("pretrained:stage3")
  with pytest.raises(CheckpointError, match="no such inference file"):
    load_params(tmp_path / "absent.npz")
  (tmp_path / "bad.npz").write_bytes(b"not a zip")
  with pytest.raises(CheckpointError, match="not a readable inference file"):
    load_params(tmp_path / "bad.npz")


def test_stage1_fine_tunes_from_the_bundled_model(tmp_path):
  from liifusion_jax.train import loop
  from train_helpers import tiny_config

  # With a zero learning rate the run's params are the ones it started from.
  loop.train(tiny_config("stage1", 1, "init_from=pretrained:stage1", "optim.lr=0.0"), tmp_path)
  trained, _ = load_params(tmp_path)
  bundled, _ = load_params("pretrained:stage1")
  _leaves_equal(trained, bundled, rtol=0)


def test_upscale_defaults_to_the_bundled_model_and_compares(tmp_path):
  from PIL import Image
  from liifusion_jax.cli import upscale as upscale_cli
  from cli_helpers import smooth_photo

  src = tmp_path / "in.png"
  Image.fromarray(smooth_photo(20, 24)).save(src)
  assert upscale_cli.main([str(src), "-o", str(tmp_path / "plain.png"), "--scale", "2"]) == 0
  assert upscale_cli.main([str(src), "-o", str(tmp_path / "both.png"), "--scale", "2", "--compare"]) == 0
  plain, both = (np.asarray(Image.open(tmp_path / f"{n}.png")) for n in ("plain", "both"))
  assert plain.shape == (40, 48, 3) and both.shape == (40, 96, 3)
  np.testing.assert_array_equal(both[:, 48:], plain)
  assert np.any(both[:, :48] != plain)  # the left half is bicubic's


def _with_one_bad_value(tmp_path, name, key, value):
  """A copy of bundled model `name` with one value of array `key` replaced."""
  with np.load(inference_file.resolve_inference_file(inference_file.PRETRAINED + name)) as data:
    arrays = {k: data[k] for k in data.files}
  arrays[key] = arrays[key].copy()
  arrays[key].flat[-1] = value
  np.savez(tmp_path / "broken.npz", **arrays)
  return tmp_path / "broken.npz"


@pytest.mark.parametrize("name", inference_file.PRETRAINED_NAMES)
def test_every_array_of_an_inference_file_is_checked_on_load(name, tmp_path):
  """NaN in stage 2's encoder or condition encoder made a flat grey image, with exit 0."""
  with np.load(inference_file.resolve_inference_file(inference_file.PRETRAINED + name)) as data:
    keys = [k for k in data.files if k != "meta.json"]
  last_of_each_module = {k.split("/")[1]: k for k in sorted(keys)}
  for i, key in enumerate(last_of_each_module.values()):
    path = _with_one_bad_value(tmp_path, name, key, (np.nan, np.inf, -np.inf)[i % 3])
    with pytest.raises(CheckpointError, match=f"{path}: {key} holds NaN or inf \\(1 of "):
      load_params(path)


@pytest.mark.parametrize("cli", ["eval", "upscale"])
def test_a_broken_weight_ends_the_clis_in_one_line(cli, tmp_path, capsys):
  from PIL import Image

  from liifusion_jax.cli import eval as eval_cli, upscale as upscale_cli
  from cli_helpers import one_line_user_error, smooth_photo

  path = _with_one_bad_value(tmp_path, "stage2", "params/condition_encoder/conv_0/kernel", np.nan)
  Image.fromarray(smooth_photo(20, 24)).save(tmp_path / "in.png")
  main, argv = {"eval": (eval_cli.main, ["--scales", "2", "--json", str(tmp_path / "r.json")]),
                "upscale": (upscale_cli.main, [str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"),
                                               "--scale", "2"])}[cli]
  message = one_line_user_error(main, [*argv, "--checkpoint", str(path)], capsys)
  assert "params/condition_encoder/conv_0/kernel holds NaN or inf" in message, message
  assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.npz", "in.png"]


def test_export_refuses_values_past_float16(tmp_path):
  params = random_params("stage1")
  params["decoder"]["out"]["bias"] = params["decoder"]["out"]["bias"] + 7e4  # finite in float32
  meta = {"stage": "stage1", "config": {"model": {}}}
  with pytest.raises(CheckpointError, match="m.npz \\(as float16\\): params/decoder/out/bias holds NaN or inf.*"
                                            "--dtype float32"):
    save_inference_file(tmp_path / "m.npz", params, meta)
  assert list(tmp_path.iterdir()) == []
  save_inference_file(tmp_path / "m.npz", params, meta, dtype=np.float32)
  np.testing.assert_array_equal(load_params(tmp_path / "m.npz")[0]["decoder"]["out"]["bias"],
                                params["decoder"]["out"]["bias"])


def test_every_array_of_a_run_checkpoint_is_checked_on_load(tmp_path):
  params = random_params("stage1")
  params["encoder"][sorted(params["encoder"])[0]]["kernel"][0, 0, 0, 0] = np.nan
  save_params(tmp_path / "run", params, {"stage": "stage1", "config": {}})
  with pytest.raises(CheckpointError, match=r"checkpoints/0: params/encoder/.*/kernel holds NaN or inf "
                                            r"\(1 of \d+ values\); the model is broken"):
    load_params(tmp_path / "run")
