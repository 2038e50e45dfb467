"""Images keep their mode through the upscaler: grey stays grey, alpha is kept, 16 bits stay 16 bits;
upscale.py writes them so, says what a format cannot hold, and notes a changed aspect ratio."""
import numpy as np
import pytest
from PIL import Image

from liifusion_jax.cli import upscale as upscale_cli
from liifusion_jax.data import images
from liifusion_jax.inference.image_modes import upscale_image
from liifusion_jax.resize.torch_bicubic import resize_bicubic_torch
from cli_helpers import smooth_photo


def bicubic(rgb, out_hw, progress=None):
  """A stand-in model: bicubic, colour by colour, clamped; reports one chunk."""
  assert rgb.ndim == 3 and rgb.shape[-1] == 3 and rgb.dtype == np.float32
  if progress:
    progress(1, 1)
  return np.clip(resize_bicubic_torch(rgb[None], out_hw, xp=np)[0], 0, 1)


def warm(rgb, out_hw, progress=None):
  """A stand-in model that tints: its output is not grey even for a grey input."""
  return bicubic(rgb, out_hw, progress) * np.asarray([1.0, 0.8, 0.6], np.float32)


def rounded(values01, depth):
  return np.floor(values01.astype(np.float64) * depth + 0.5)


def test_grey_in_grey_out():
  grey = smooth_photo(12, 16)[..., 1]
  out = upscale_image(warm, grey, (30, 40))
  want = warm(np.repeat(grey[..., None] / np.float32(255), 3, -1), (30, 40)) @ [0.299, 0.587, 0.114]
  assert out.shape == (30, 40) and out.dtype == np.uint8
  np.testing.assert_array_equal(out, rounded(want, 255))


def test_sixteen_bits_stay_sixteen_bits():
  grey = (smooth_photo(12, 16)[..., 0].astype(np.uint16) * 257 + np.arange(16, dtype=np.uint16))
  out = upscale_image(bicubic, grey, (24, 32))
  assert out.dtype == np.uint16
  want = bicubic(np.repeat(grey[..., None] / np.float32(65535), 3, -1).astype(np.float32), (24, 32))[..., 0]
  np.testing.assert_allclose(out, rounded(want, 65535), atol=1)  # luma weights sum to 1 within float32
  assert np.any(out % 257)  # not 8-bit values scaled up


@pytest.mark.parametrize("alpha", ["bicubic", "model"])
def test_alpha_is_kept(alpha):
  rgba = np.dstack([smooth_photo(12, 16, 1), smooth_photo(12, 16, 2)[..., 0]])
  calls = []
  out = upscale_image(warm, rgba, (24, 32), alpha, progress=lambda *c: calls.append(c))
  assert out.shape == (24, 32, 4) and out.dtype == np.uint8
  np.testing.assert_array_equal(out[..., :3], rounded(warm(rgba[..., :3] / np.float32(255), (24, 32)), 255))
  plane = rgba[..., 3:] / np.float32(255)
  if alpha == "bicubic":
    want = np.clip(resize_bicubic_torch(plane[None], (24, 32), xp=np)[0, ..., 0], 0, 1)
    assert calls == [(1, 1)]
  else:
    want = warm(np.repeat(plane, 3, -1), (24, 32)) @ [0.299, 0.587, 0.114]
    assert calls == [(1, 2), (2, 2)]  # two calls of the model, one total
  np.testing.assert_allclose(out[..., 3], rounded(want, 255), atol=1)


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "I;16"])
def test_a_pil_image_comes_back_in_its_mode(mode):
  image = Image.fromarray(smooth_photo(12, 16)).convert(mode if mode != "I;16" else "L")
  if mode == "I;16":
    image = Image.fromarray(np.asarray(image).astype(np.uint16) * 257)
  out = upscale_image(bicubic, image, (24, 32))
  assert isinstance(out, Image.Image) and (out.mode, out.size) == (mode, (32, 24))


def test_upscale_py_keeps_the_modes(tmp_path, stage2_ckpt, capsys):
  src = tmp_path / "in"
  src.mkdir()
  photo = smooth_photo(20, 24)
  Image.fromarray(photo[..., 0]).save(src / "grey.png")
  Image.fromarray(np.dstack([photo, photo[..., 1]])).save(src / "rgba.png")
  Image.fromarray(photo[..., 2].astype(np.uint16) * 257 + 100).save(src / "deep.png")
  assert upscale_cli.main([str(src), str(tmp_path / "out"), "-s", "2", "--checkpoint", stage2_ckpt]) == 0
  for name, mode in (("grey.png", "L"), ("rgba.png", "RGBA"), ("deep.png", "I;16")):
    with Image.open(tmp_path / "out" / name) as im:
      assert (im.mode, im.size) == (mode, (48, 40)), name
  assert upscale_cli.main([str(src / "rgba.png"), str(tmp_path / "bicubic.png"), "-s", "2", "--alpha", "bicubic",
                           "--checkpoint", stage2_ckpt]) == 0
  by_model, by_bicubic = (images.read_native(tmp_path / name)[..., 3] for name in ("out/rgba.png", "bicubic.png"))
  want = resize_bicubic_torch(photo[None, ..., 1:2] / np.float32(255), (40, 48), xp=np)[0, ..., 0]
  np.testing.assert_array_equal(by_bicubic, rounded(np.clip(want, 0, 1), 255))
  assert np.any(by_model != by_bicubic)  # the model on the alpha by default
  assert np.any(images.read_native(tmp_path / "out" / "deep.png") % 257)
  assert upscale_cli.main([str(src / "rgba.png"), str(tmp_path / "rgba.jpg"), "-s", "2",
                           "--checkpoint", stage2_ckpt]) == 0
  assert f"note: JPEG cannot hold alpha: {tmp_path / 'rgba.jpg'} is written without" in capsys.readouterr().err
  with Image.open(tmp_path / "rgba.jpg") as im:
    assert im.mode == "RGB"


@pytest.mark.parametrize("size, note", [
    ("600x200", "changes the aspect ratio of {} from 1.33 to 3.00 (width x4.69, height x2.08)"),
    ("256x192", None),
    ("257x192", None),  # a pixel off: the same aspect
])
def test_a_size_of_another_aspect_is_noted(size, note, tmp_path, capsys):
  src = tmp_path / "in.png"
  Image.fromarray(smooth_photo(96, 128)).save(src)
  # No checkpoint: the note comes while the input is read, before the model is loaded.
  with pytest.raises(SystemExit):
    upscale_cli.main([str(src), str(tmp_path / "o.png"), "--size", size, "--checkpoint", str(tmp_path / "none")])
  err = capsys.readouterr().err
  if note is None:
    assert "note:" not in err
  else:
    assert f"note: --size {size} {note.format(src)}" in err
