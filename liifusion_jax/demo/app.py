"""The demo's page (Gradio) and server: upload, upscale (a scale or an exact size, the seed, the
self-ensemble), the result beside bicubic with a PNG download, and the deep-zoom view (`zoom`)."""
import functools
import os
import tempfile
import time

import fastapi
import gradio as gr
import uvicorn

from liifusion_jax.cli.errors import USER_ERRORS, one_line
from liifusion_jax.data import images
from liifusion_jax.demo import pyramid, zoom
from liifusion_jax.demo.service import Service, for_display
from liifusion_jax.evaluation import protocols
from liifusion_jax.inference.image_modes import upscale_image
from liifusion_jax.inference.upscaler import Upscaler


def page_errors(handler):
  """`handler` with the project's user errors shown as one message in the page (gr.Error)."""
  @functools.wraps(handler)
  def wrapped(*args, **kwargs):
    try:
      return handler(*args, **kwargs)
    except USER_ERRORS as error:
      raise gr.Error(one_line(error), print_exception=False) from None
  return wrapped


class Handlers:
  """The page's event handlers over a `Service`; results are written under `out_dir`."""

  def __init__(self, service, out_dir):
    self.service = service
    self.out_dir = out_dir

  @page_errors
  def uploaded(self, path):
    """(input preview, width, height, text): the upload checked, and x4 as the size to start from."""
    if path is None:
      return None, None, None, ""
    image = self.service.read(path)
    h, w = image.shape[:2]
    return for_display(image), 4 * w, 4 * h, f"input {w}x{h}"

  @page_errors
  def upscale(self, path, by, scale, width, height, seed, self_ensemble, progress=gr.Progress()):
    """((bicubic, model) uint8 images, text, PNG path, deep-zoom view HTML)."""
    if path is None:
      raise gr.Error("upload an image first", print_exception=False)
    image = self.service.read(path)
    size = None if by == "scale" else (int(height or 0), int(width or 0))
    if size is not None and min(size) < 1:
      raise gr.Error("give the output's width and height in pixels", print_exception=False)
    out_hw = self.service.output_size(image.shape[:2], float(scale) if size is None else None, size)
    start = time.perf_counter()
    progress(0, desc="encoding")
    # The colour (and the alpha, upscaled as grey by the model) as upscale.py does: image_modes.
    keys, passes = [], 2 if image.ndim == 3 and image.shape[-1] in (2, 4) else 1
    report = lambda fraction: progress((len(keys) + fraction) / passes, desc="decoding")

    def model(rgb01, hw, progress=None):
      del progress  # the page's progress comes from the service's bands (`report`)
      sr, _, key = self.service.upscale(rgb01, hw, int(seed or 0), bool(self_ensemble), report)
      keys.append(key)
      return sr

    sr = upscale_image(model, image, out_hw)
    bicubic = upscale_image(_bicubic, image, out_hw, "bicubic")
    seconds = time.perf_counter() - start
    name = os.path.splitext(os.path.basename(path))[0]
    png = os.path.join(self.out_dir, keys[0], f"{name}_{out_hw[1]}x{out_hw[0]}.png")
    images.save_image(png, sr)  # in the upload's mode: grey, alpha and 16 bits kept
    text = (f"{image.shape[1]}x{image.shape[0]} -> {out_hw[1]}x{out_hw[0]} in {seconds:.1f} s "
            f"(seed {int(seed or 0)}{', self-ensemble' if self_ensemble else ''}); left: bicubic, "
            f"right: LIIFusion")
    return (for_display(bicubic), for_display(sr)), text, png, zoom_frame(keys[0])


def _bicubic(lr01, out_hw, progress=None):
  return protocols.bicubic_upscale(lr01, out_hw, "div2k")


def zoom_frame(key):
  """The deep-zoom view of the encoding `key`: its viewer page in a frame."""
  return (f'<iframe id="zoom-frame" src="/zoom/{key}" title="deep zoom" '
          f'style="width: 100%; height: 640px; border: 0"></iframe>')


def build(handlers, max_side):
  """The Gradio page."""
  with gr.Blocks(title="LIIFusion demo", analytics_enabled=False) as page:  # no calls home
    gr.Markdown("## LIIFusion: arbitrary-scale super-resolution\nUpload an image, choose a scale (1-30) "
                "or an exact size, and compare the model with bicubic; the deep-zoom tab decodes only "
                "the part on screen, up to x30.")
    with gr.Row():
      with gr.Column(scale=1):
        upload = gr.File(label=f"image (PNG, JPEG, WebP; at most {max_side} pixels on the long side)",
                         file_types=["image"], type="filepath", elem_id="upload")
        preview = gr.Image(label="input", interactive=False, format="png", elem_id="preview")
        by = gr.Radio(["scale", "size"], value="scale", label="output by", elem_id="by")
        scale = gr.Slider(1, pyramid.MAX_ZOOM, value=4, step=0.1, label="scale", elem_id="scale")
        with gr.Row():
          width = gr.Number(label="width", precision=0, elem_id="width")
          height = gr.Number(label="height", precision=0, elem_id="height")
        seed = gr.Number(0, label="seed", precision=0, elem_id="seed")
        ensemble = gr.Checkbox(False, label="self-ensemble (8 flips and turns averaged: 8x the time)",
                               elem_id="ensemble")
        run = gr.Button("Upscale", variant="primary", elem_id="run")
      with gr.Column(scale=2):
        with gr.Tab("Before / after", elem_id="tab-compare"):
          result = gr.ImageSlider(label="bicubic | LIIFusion", type="numpy", format="png",
                                  elem_id="result", max_height=720)
          info = gr.Markdown(elem_id="info")
          download = gr.DownloadButton("Download PNG", elem_id="download")
        with gr.Tab("Deep zoom", elem_id="tab-zoom"):
          gr.Markdown("The last upscaled image (seed as set, no self-ensemble), up to x30: scroll or "
                      "pinch to zoom, drag to pan; each tile is decoded when it comes on screen.")
          frame = gr.HTML(elem_id="zoom")
    upload.change(handlers.uploaded, upload, [preview, width, height, info])
    run.click(handlers.upscale, [upload, by, scale, width, height, seed, ensemble],
              [result, info, download, frame])
  return page


def serve(args):
  """Loads the model, compiles its programs, and serves the page until stopped."""
  upscaler = Upscaler.from_checkpoint(args.checkpoint, precision=args.precision)
  service = Service(upscaler, args.max_side, args.max_output_side)
  start = time.perf_counter()
  print(f"compiling the programs for uploads up to {args.max_side} pixels (or reading them from the "
        f"compilation cache) ...", flush=True)
  runs = service.warm_up()
  print(f"compiled in {time.perf_counter() - start:.1f} s ({runs} canvas sizes)", flush=True)
  out_dir = tempfile.mkdtemp(prefix="liifusion-demo-")
  app = fastapi.FastAPI()
  zoom.add_routes(app, service)  # before the page's catch-all mount
  page = build(Handlers(service, out_dir), args.max_side)
  app = gr.mount_gradio_app(app, page, path="/", allowed_paths=[out_dir], footer_links=[])
  print(f"serving on http://{args.host}:{args.port}", flush=True)
  uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=5)
