"""The deep-zoom view's web routes: the viewer page (OpenSeadragon, vendored in static/ with its
licence) and its tiles, each decoded alone from the image's encoding (`Service.tile`)."""
import io
import json
import pathlib

import fastapi
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image

from liifusion_jax.demo import pyramid
from liifusion_jax.resize.matlab_pil import to_uint8

STATIC = pathlib.Path(__file__).parent / "static"


def png(image01):
  """(h, w, 3) floats in [0, 1] as PNG bytes."""
  buffer = io.BytesIO()
  Image.fromarray(to_uint8(image01)).save(buffer, format="PNG")
  return buffer.getvalue()


def viewer_page(key, info):
  """The viewer's HTML for the encoding `key` with `Service.zoom_info`'s pyramid."""
  text = (STATIC / "viewer.html").read_text()
  return text.replace("__INFO__", json.dumps({**info, "key": key, "zoom": pyramid.MAX_ZOOM}))


def add_routes(app, service):
  """/zoom/KEY (the viewer), /zoom/KEY/LEVEL/COL_ROW.png (a tile) and /zoom-static/ on `app`."""
  app.mount("/zoom-static", StaticFiles(directory=STATIC), name="zoom-static")

  @app.get("/zoom/{key}", response_class=HTMLResponse)
  def viewer(key: str):
    try:
      return viewer_page(key, service.zoom_info(key))
    except KeyError as error:
      raise fastapi.HTTPException(404, str(error.args[0])) from None

  @app.get("/zoom/{key}/{level}/{col}_{row}.png")
  def tile(key: str, level: int, col: int, row: int):  # a plain def: FastAPI runs it in a thread
    try:
      return Response(png(service.tile(key, level, col, row)), media_type="image/png")
    except (KeyError, ValueError) as error:
      raise fastapi.HTTPException(404, str(error.args[0])) from None
