import jax
import jax.numpy as jnp
import numpy as np
import pytest

from liifusion_jax.losses.perceptual import (VGG19_BLOCKS, describe, load_vgg_params, perceptual_loss,
                                             vgg_params_from_state_dict)


@pytest.fixture(scope="module")
def vgg16():
  return load_vgg_params("vgg16_lpips")


def _pair(shape=(2, 32, 32, 3)):
  rng = np.random.default_rng(0)
  gt = rng.uniform(0, 1, shape).astype(np.float32)
  return jnp.asarray(np.clip(gt + rng.normal(0, 0.05, shape), 0, 1).astype(np.float32)), jnp.asarray(gt)


def _identity_conv():
  kernel = np.zeros((3, 3, 3, 3), np.float32)
  kernel[1, 1] = np.eye(3)
  return {"kernel": jnp.asarray(kernel), "bias": jnp.zeros(3)}


def test_default_is_vgg16_up_to_relu5_3(vgg16):
  assert [len(b) for b in vgg16] == [2, 2, 3, 3, 3]
  assert vgg16[-1][-1]["kernel"].shape == (3, 3, 512, 512)
  assert "VGG16" in describe() and "VGG19" in describe("vgg19_pth", "/x/vgg19.pth")


def test_imagenet_normalisation_by_hand():
  # Two identity blocks: features are the ImageNet-normalised input, max-pooled once.
  params = [[_identity_conv()], [_identity_conv()]]
  pred = jnp.full((1, 4, 4, 3), 0.9)
  gt = jnp.full((1, 4, 4, 3), 0.8)
  expected = np.mean((0.1 / np.array([0.229, 0.224, 0.225])) ** 2)
  assert float(perceptual_loss(params, pred, gt)) == pytest.approx(expected, rel=1e-5)


def test_zero_positive_and_finite_gradient(vgg16):
  pred, gt = _pair()
  fn = jax.jit(jax.value_and_grad(perceptual_loss, argnums=1))
  same, _ = fn(vgg16, gt, gt)
  assert float(same) == 0.0
  value, grad = fn(vgg16, pred, gt)
  assert float(value) > 0
  assert grad.shape == pred.shape and np.all(np.isfinite(np.asarray(grad))) and np.any(np.asarray(grad) != 0)


def _fake_vgg19_state_dict(rng):
  sd, index, cin = {}, 0, 3
  for i, (size, cout) in enumerate(zip(VGG19_BLOCKS, (4, 5, 6, 7, 8))):
    if i:
      index += 1
    for _ in range(size):
      sd[f"features.{index}.weight"] = rng.normal(0, 0.3, (cout, cin, 3, 3)).astype(np.float32)
      sd[f"features.{index}.bias"] = rng.normal(0, 0.1, (cout,)).astype(np.float32)
      index, cin = index + 2, cout
  sd["classifier.0.weight"] = np.zeros((2, 2), np.float32)  # ignored
  return sd


def test_vgg19_state_dict_layout():
  sd = _fake_vgg19_state_dict(np.random.default_rng(1))
  params = vgg_params_from_state_dict(sd)
  assert [len(b) for b in params] == [2, 2, 4, 4, 4]
  # features[:36] ends with conv5_4 = features.34; features.19 is conv4_1 (after the third pool).
  np.testing.assert_array_equal(params[4][3]["kernel"], sd["features.34.weight"].transpose(2, 3, 1, 0))
  np.testing.assert_array_equal(params[3][0]["bias"], sd["features.19.bias"])
  pred, gt = _pair()
  assert float(perceptual_loss(params, pred, gt)) > 0


def test_vgg19_pth_round_trip(tmp_path):
  torch = pytest.importorskip("torch")
  sd = _fake_vgg19_state_dict(np.random.default_rng(2))
  path = tmp_path / "vgg19.pth"
  torch.save({k: torch.from_numpy(v) for k, v in sd.items()}, path)
  params = load_vgg_params("vgg19_pth", path)
  np.testing.assert_array_equal(params[0][0]["kernel"], sd["features.0.weight"].transpose(2, 3, 1, 0))


def test_vgg19_pth_errors(monkeypatch):
  with pytest.raises(ValueError, match="path"):
    load_vgg_params("vgg19_pth")
  with pytest.raises(ValueError, match="vgg16_lpips, vgg19_pth"):
    load_vgg_params("resnet")
  import builtins
  real_import = builtins.__import__

  def no_torch(name, *args, **kwargs):
    if name == "torch":
      raise ImportError("no torch")
    return real_import(name, *args, **kwargs)

  monkeypatch.setattr(builtins, "__import__", no_torch)
  with pytest.raises(ImportError, match="pip install torch"):
    load_vgg_params("vgg19_pth", "/nonexistent.pth")
