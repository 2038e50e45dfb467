"""upscale.py on images of a few pixels: the bundled model gives their colours (the networks' zero
padding alone would make them grey)."""
import numpy as np
import pytest
from PIL import Image

from liifusion_jax.cli import upscale as upscale_cli
from liifusion_jax.data import images
from cli_helpers import exit_status

SIZES = [(1, 1), (2, 2), (3, 3), (4, 4), (1, 40), (40, 1)]  # (H, W)
COLOURS = [(255, 0, 0), (30, 200, 90)]


@pytest.mark.slow
def test_flat_tiny_images_come_out_flat_in_their_colour(tmp_path):
  (tmp_path / "in").mkdir()
  for h, w in SIZES:
    for c, colour in enumerate(COLOURS):
      Image.fromarray(np.full((h, w, 3), colour, np.uint8)).save(tmp_path / "in" / f"{h}x{w}_{c}.png")
  assert exit_status(upscale_cli.main, [str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--scale", "4"]) == 0
  for h, w in SIZES:
    for c, colour in enumerate(COLOURS):
      out = images.read_image(tmp_path / "out" / f"{h}x{w}_{c}.png").astype(int)
      assert out.shape == (4 * h, 4 * w, 3)
      error = np.abs(out - colour).max()
      print(h, w, colour, error)
      assert error <= 6, (h, w, colour, error)  # 1x1 red was (125, 120, 121) before
