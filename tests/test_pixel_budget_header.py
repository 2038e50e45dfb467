"""The pixel budget of eval.py and upscale.py is checked from the file's header, before decoding: a
small PNG declaring 10000x10000 is refused without its 100 megapixels ever being decoded."""
import pytest
from PIL import Image

from liifusion_jax.cli import eval as eval_cli
from liifusion_jax.cli import upscale as upscale_cli
from liifusion_jax.data import images
from liifusion_jax.evaluation import datasets
from cli_helpers import one_line_user_error


@pytest.fixture
def huge_png(tmp_path, monkeypatch):
  """A bilevel 10000x10000 PNG (a few KB); decoding any image fails the test."""
  path = tmp_path / "huge.png"
  Image.new("1", (10000, 10000)).save(path)

  def no_decoding(path):
    raise AssertionError(f"decoded {path}")

  monkeypatch.setattr(images, "load_image", no_decoding)
  monkeypatch.setattr(datasets, "load_image", no_decoding)
  return path


def test_upscale_refuses_from_the_header(huge_png, tmp_path, capsys):
  message = one_line_user_error(upscale_cli.main, [str(huge_png), "-o", str(tmp_path / "out.png"),
                                                   "--scale", "1.2", "--checkpoint", "none"], capsys)
  assert "would be 12000x12000 (144.0 megapixels), over the budget" in message, message


def test_eval_refuses_from_the_header(huge_png, capsys):
  message = one_line_user_error(eval_cli.main, ["--method", "bicubic", "--data", str(huge_png),
                                                "--scales", "2"], capsys)
  assert "would be 10000x10000 (100.0 megapixels), over the budget" in message, message
