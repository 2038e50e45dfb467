"""The paper's test protocols: provided LR at x2-x4 (benchmark and DIV2K layouts), the reference
wrapper's LR beyond, CelebA-HQ100's crops, and `--table` presets beside the paper's figures."""
import numpy as np
from PIL import Image

from liifusion_jax.cli import eval as eval_cli
from liifusion_jax.data.images import load_image
from liifusion_jax.evaluation import datasets, metrics, protocols
from liifusion_jax.resize.matlab_pil import imresize_matlab, resize_pil_bicubic, to_uint8
from cli_helpers import smooth_photo


def _save(path, array):
  path.parent.mkdir(parents=True, exist_ok=True)
  Image.fromarray(array).save(path)


def test_div2k_layout_pairs_the_provided_lr_up_to_x4(tmp_path):
  hr = smooth_photo(48, 60, 0)
  _save(tmp_path / "DIV2K_valid_HR" / "0801.png", hr)
  lr_file = smooth_photo(24, 30, 1)  # not a resize of hr: shows the file is what is used
  _save(tmp_path / "DIV2K_valid_LR_bicubic" / "X2" / "0801x2.png", lr_file)
  _save(tmp_path / "DIV2K_valid_LR_bicubic" / "X6" / "0801x6.png", smooth_photo(8, 10, 2))
  dataset = datasets.open_dataset(tmp_path / "DIV2K_valid_HR")
  lr, _ = datasets.lr_hr_pair(dataset, 0, 2.0, "div2k")
  np.testing.assert_array_equal(lr, load_image(tmp_path / "DIV2K_valid_LR_bicubic" / "X2" / "0801x2.png"))
  lr6, hr6 = datasets.lr_hr_pair(dataset, 0, 6.0, "div2k")  # x6: made by the wrapper, not the file
  np.testing.assert_allclose(lr6, resize_pil_bicubic(hr6, (8, 10)))


def test_benchmark_lr_is_matlab_up_to_x4_and_the_wrapper_beyond():
  hr = smooth_photo(48, 48, 3).astype(np.float32) / 255
  lr4, hr4 = protocols.make_pair(hr, 4.0, "benchmark")
  np.testing.assert_allclose(lr4, imresize_matlab(to_uint8(hr4), output_shape=(12, 12)) / 255.0, atol=1e-7)
  lr6, hr6 = protocols.make_pair(hr, 6.0, "benchmark")
  np.testing.assert_array_equal(lr6, resize_pil_bicubic(hr6, (8, 8)))
  assert not np.allclose(lr6, imresize_matlab(to_uint8(hr6), output_shape=(8, 8)) / 255.0, atol=1e-3)


def test_celeba_crops_a_seeded_square_and_scores_the_whole_image():
  hr = smooth_photo(200, 210, 4).astype(np.float32) / 255
  lr, crop = protocols.make_pair(hr, 10.7, "celeba", index=3)
  assert lr.shape == (16, 16, 3) and crop.shape == (171, 171, 3)
  np.testing.assert_array_equal(crop, protocols.make_pair(hr, 10.7, "celeba", index=3)[1])
  assert not np.array_equal(crop, protocols.make_pair(hr, 10.7, "celeba", index=4)[1])
  assert metrics.shave_size(10.7, "celeba") == 0
  noisy = crop.copy()
  noisy[0, 0, 0] += 0.5  # a border pixel counts
  assert metrics.psnr(noisy, crop, scale=10.7, protocol="celeba") < 100


def test_table_preset_prints_the_papers_figures_beside_ours(tmp_path, capsys):
  for name in ("a", "b"):
    _save(tmp_path / "benchmark" / "Set5" / "HR" / f"{name}.png", smooth_photo(48, 56, ord(name)))
  # No --checkpoint: the bundled model of the table's stage, then bicubic.
  assert eval_cli.main(["--table", "2", "--data-root", str(tmp_path)]) == 0
  out, err = capsys.readouterr()
  assert "Set14" in err and "not found" in err  # the missing data sets are named and skipped
  assert "model: pretrained:stage1 (stage1, float32)" in out
  lines = [line.split() for line in out.splitlines()]
  comparison = lines[lines.index(["dataset", "scale", "method", "ours", "paper"]) + 1:]
  assert len(comparison) == 2 * 5  # Set5 at 5 scales, ours and bicubic
  assert ["Set5", "x2", "Ours", "37.97"] == comparison[0][:3] + comparison[0][-1:]
  assert any(line[:3] == ["Set5", "x2", "Bicubic"] and line[-1] == "31.81" for line in comparison)
  assert any(line[:3] == ["Set5", "x8", "Bicubic"] and line[-1] == "22.75" for line in comparison)


def test_celeba_table_takes_the_first_100_images(tmp_path):
  for i in range(3):
    _save(tmp_path / "celeba_hq" / f"{i:05d}.png", smooth_photo(196, 196, i))
  dataset = datasets.open_dataset(tmp_path / "celeba_hq", first_k=2)
  assert dataset.names == ["00000.png", "00001.png"]
