"""The web demo's functions: the deep-zoom pyramid, the service (uploads, upscalings, tiles, warm-up),
the page's handlers, the tile routes and the command line (the browser test: test_demo_browser.py)."""
import io
import math
import sys

import numpy as np
import pytest
from PIL import Image

from cli_helpers import exit_status
from liifusion_jax.cli import demo as demo_cli
from liifusion_jax.cli.errors import UsageError
from liifusion_jax.data.images import ImageError
from liifusion_jax.demo import pyramid, service as service_module
from liifusion_jax.demo.service import Service
from liifusion_jax.inference.upscaler import Upscaler
from test_shape_stable import _LOWERED, _events, _image


@pytest.fixture(scope="module")
def upscaler():
  return Upscaler.pretrained("stage2", chunk=1024)


@pytest.fixture(scope="module")
def service(upscaler):
  return Service(upscaler, max_side=64, max_output_side=512)


def _png(path, array):
  Image.fromarray(array).save(path)
  return str(path)


@pytest.mark.parametrize("lr_hw", [(64, 48), (1, 1), (37, 1000)])
def test_the_pyramid_is_openseadragons(lr_hw):
  """Level L is ceil(top / 2^(max - L)) (OpenSeadragon's); the lowest served is the last at least the
  LR size; a level's tiles cover it exactly."""
  top = pyramid.top_size(lr_hw)
  assert top == (lr_hw[0] * 30, lr_hw[1] * 30)
  top_level = pyramid.max_level(top)
  assert 2 ** (top_level - 1) < max(top) <= 2 ** top_level
  assert pyramid.level_size(top, top_level) == top
  low = pyramid.min_level(lr_hw, top)
  assert all(a >= b for a, b in zip(pyramid.level_size(top, low), lr_hw))
  assert low == 0 or any(a < b for a, b in zip(pyramid.level_size(top, low - 1), lr_hw))
  for level in (low, top_level):
    h, w = pyramid.level_size(top, level)
    assert (h, w) == tuple(math.ceil(n / 2 ** (top_level - level)) for n in top)
    covered = np.zeros((h, w), int)
    for row in range(-(-h // pyramid.TILE)):
      for col in range(-(-w // pyramid.TILE)):
        (t, l), (b, r) = pyramid.tile_window(top, level, col, row)
        covered[t:b, l:r] += 1
    assert (covered == 1).all()
    with pytest.raises(ValueError, match=f"no tile {-(-w // pyramid.TILE)}_0 at level {level}"):
      pyramid.tile_window(top, level, -(-w // pyramid.TILE), 0)


def test_uploads_are_read_as_upscale_reads_them(service, tmp_path):
  """In their own modes (16-bit greyscale, RGBA); a corrupt file and one over the cap are refused in
  one line."""
  grey16 = (np.arange(20 * 30, dtype=np.uint16).reshape(20, 30) * 97).astype(np.uint16)
  np.testing.assert_array_equal(service.read(_png(tmp_path / "grey16.png", grey16)), grey16)
  rgba = np.random.default_rng(0).integers(0, 256, (9, 7, 4), dtype=np.uint8)
  np.testing.assert_array_equal(service.read(_png(tmp_path / "rgba.png", rgba)), rgba)
  (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
  with pytest.raises(ImageError, match="cannot read image .*corrupt.png"):
    service.read(str(tmp_path / "corrupt.png"))
  big = _png(tmp_path / "big.png", np.zeros((10, 65, 3), np.uint8))
  with pytest.raises(UsageError, match=r"^the image is 65x10: the demo takes at most 64 pixels on the long "
                                       r"side \(--max-side to change it\)$"):
    service.read(big)


def test_output_sizes_and_their_limits(service):
  assert service.output_size((20, 30), scale=2.5) == (50, 75)
  assert service.output_size((20, 30), size=(21, 300)) == (21, 300)
  with pytest.raises(UsageError, match="the scale must be from 1 to 30, got 30.5"):
    service.output_size((2, 3), scale=30.5)
  with pytest.raises(UsageError, match="smaller than the input"):
    service.output_size((20, 30), size=(19, 300))
  with pytest.raises(UsageError, match="the output would be 600x400, over the 512-pixel cap on its long side"):
    service.output_size((20, 30), scale=20)


def test_a_stage1_model_is_refused():
  with pytest.raises(UsageError, match="the demo needs a stage-2 checkpoint"):
    Service(Upscaler.pretrained("stage1"))


@pytest.mark.parametrize("self_ensemble", [False, True])
def test_an_upscaling_in_bands_is_the_upscalers(service, upscaler, self_ensemble):
  """The bands of rows (the progress steps) give the upscaler's image; progress rises to 1."""
  lr = _image((17, 23), 0)
  fractions = []
  sr, bicubic, key = service.upscale(lr, (85, 115), seed=4, self_ensemble=self_ensemble,
                                     progress=fractions.append)
  want = upscaler(lr, (85, 115), seed=4, self_ensemble=self_ensemble)
  assert np.abs(sr - want).max() <= 1e-6
  assert bicubic.shape == (85, 115, 3) and np.abs(bicubic - sr).mean() > 0.01
  assert len(fractions) == (16 if self_ensemble else 2)  # 8 chunks of 1024 queries: 71 rows a band
  assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
  assert service.zoom_info(key)["width"] == 23 * 30


def test_tiles_are_crops_of_the_upscaling_at_their_level(service, upscaler):
  lr = _image((20, 13), 1)
  key, _ = service.encode(lr, seed=2)
  info = service.zoom_info(key)
  top = (info["height"], info["width"])
  assert top == (600, 390) and info["max_level"] == 10 and info["min_level"] == 6
  level_hw = pyramid.level_size(top, 8)  # 150 x 98: one tile
  full = upscaler(lr, level_hw, seed=2)
  assert np.abs(service.tile(key, 8, 0, 0) - full).max() <= 1e-6
  (t, l), (b, r) = pyramid.tile_window(top, 10, 1, 2)
  assert service.tile(key, 10, 1, 2).shape == (b - t, r - l, 3) == (600 - 512, 390 - 256, 3)
  with pytest.raises(KeyError, match="below the lowest level served"):
    service.tile(key, 5, 0, 0)
  for _ in range(service_module.KEEP):
    service.encode(lr, seed=0)
  with pytest.raises(KeyError, match="replaced by a newer one"):
    service.tile(key, 8, 0, 0)


def test_after_the_warm_up_uploads_within_the_cap_compile_nothing():
  service = Service(Upscaler.pretrained("stage2", chunk=1024), max_side=40)  # its own programs
  before = _events[_LOWERED]
  assert service.warm_up() == 2  # 32 and 40 pixels: pooling canvases of 32, 48, feature canvases of 40, 56
  assert _events[_LOWERED] > before
  before = _events[_LOWERED]
  for lr_hw in ((40, 40), (33, 17), (9, 40), (24, 32), (1, 1)):
    service.upscale(_image(lr_hw, 0), tuple(3 * n for n in lr_hw))
  assert _events[_LOWERED] == before


def test_the_command_line(monkeypatch, capsys):
  args = demo_cli.parse_args([])
  assert (args.host, args.port, args.checkpoint, args.max_side) == ("127.0.0.1", 7860, "pretrained:stage2", 1024)
  monkeypatch.delitem(sys.modules, "liifusion_jax.demo.app", raising=False)
  monkeypatch.setitem(sys.modules, "gradio", None)  # not installed
  assert exit_status(demo_cli.main, ["--port", "1"]) == 1
  err = capsys.readouterr().err
  assert err.startswith("error: the demo needs Gradio (") and err.endswith("pip install 'liifusion-jax[demo]'\n")


# The page's handlers and the tile routes need Gradio and FastAPI (the demo extra).
@pytest.fixture(scope="module")
def gr():
  return pytest.importorskip("gradio")


@pytest.fixture(scope="module")
def handlers(gr, service, tmp_path_factory):
  from liifusion_jax.demo.app import Handlers
  return Handlers(service, str(tmp_path_factory.mktemp("out")))


def test_an_upscale_gives_both_images_a_png_and_the_zoom_view(handlers, tmp_path):
  path = _png(tmp_path / "cat.png", np.round(_image((12, 16), 3) * 255).astype(np.uint8))
  preview, width, height, text = handlers.uploaded(path)
  assert preview.shape == (12, 16, 3) and (width, height) == (64, 48) and text == "input 16x12"
  (bicubic, sr), text, png, frame = handlers.upscale(path, "size", 4, 50, 30, 1, False)
  assert bicubic.shape == sr.shape == (30, 50, 3) and bicubic.dtype == sr.dtype == np.uint8
  assert np.abs(bicubic.astype(int) - sr).mean() > 1
  assert text.startswith("16x12 -> 50x30 in ") and "(seed 1)" in text
  with Image.open(png) as saved:
    assert saved.size == (50, 30) and np.array_equal(np.asarray(saved), sr)
  assert 'src="/zoom/' in frame
  (_, sr), *_ = handlers.upscale(path, "scale", 2.5, None, None, 0, False)
  assert sr.shape == (30, 40, 3)


def test_an_upload_keeps_its_mode_in_the_download(handlers, tmp_path):
  """Grey + alpha and 16-bit grey come back in their modes, as upscale.py writes them; the page
  shows them as 8-bit RGBA and grey."""
  rng = np.random.default_rng(2)
  grey_alpha = np.round(np.dstack([_image((12, 16), 3)[..., 0], rng.uniform(0, 1, (12, 16))]) * 255)
  path = _png(tmp_path / "la.png", grey_alpha.astype(np.uint8))
  (bicubic, sr), _, png, _ = handlers.upscale(path, "scale", 2, None, None, 0, False)
  assert bicubic.shape == sr.shape == (24, 32, 4) and sr.dtype == np.uint8
  with Image.open(png) as saved:
    assert saved.mode == "LA" and saved.size == (32, 24)
  grey16 = np.round(_image((12, 16), 3)[..., 0] * 65535).astype(np.uint16)
  (_, sr), _, png, _ = handlers.upscale(_png(tmp_path / "g16.png", grey16), "scale", 2, None, None, 0, False)
  assert sr.shape == (24, 32) and sr.dtype == np.uint8
  with Image.open(png) as saved:
    assert saved.mode in ("I;16", "I") and saved.size == (32, 24)
    assert np.asarray(saved).max() > 255  # 16 bits, not 8 scaled


def test_errors_are_one_message_in_the_page(gr, handlers, tmp_path):
  (tmp_path / "bad.png").write_bytes(b"GIF89a broken")
  for call in (lambda: handlers.uploaded(str(tmp_path / "bad.png")),
               lambda: handlers.upscale(str(tmp_path / "bad.png"), "scale", 2, None, None, 0, False),
               lambda: handlers.upscale(None, "scale", 2, None, None, 0, False),
               lambda: handlers.upscale(_png(tmp_path / "ok.png", np.zeros((8, 8, 3), np.uint8)), "scale",
                                        30.5, None, None, 0, False)):
    with pytest.raises(gr.Error) as error:
      call()
    assert error.value.message and "\n" not in error.value.message
  with pytest.raises(gr.Error) as error:
    handlers.uploaded(str(tmp_path / "bad.png"))
  assert error.value.message.startswith(f"cannot read image {tmp_path / 'bad.png'}: ")


def test_tile_routes(gr, service):
  from fastapi import FastAPI
  from fastapi.testclient import TestClient
  from liifusion_jax.demo import zoom
  app = FastAPI()
  zoom.add_routes(app, service)
  client = TestClient(app)
  key, _ = service.encode(_image((10, 12), 0), seed=0)
  page = client.get(f"/zoom/{key}")
  assert page.status_code == 200 and f'"key": "{key}"' in page.text and '"max_level": 9' in page.text
  tile = client.get(f"/zoom/{key}/9/1_0.png")
  assert tile.status_code == 200 and tile.headers["content-type"] == "image/png"
  with Image.open(io.BytesIO(tile.content)) as image:
    assert image.size == (360 - 256, 256)
  assert client.get(f"/zoom/{key}/9/2_0.png").status_code == 404
  assert client.get("/zoom/nokey/9/0_0.png").status_code == 404
  assert client.get("/zoom-static/openseadragon.min.js").status_code == 200
  assert client.get("/zoom-static/images/zoomin_rest.png").status_code == 200
