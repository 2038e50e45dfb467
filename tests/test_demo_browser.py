"""The web demo end to end in headless Chromium: the app started as a user starts it, an upload, an
upscale (the result's size, and that it is not bicubic's), then the deep-zoom view zoomed to x30 and
a tile of its top level decoded. Screenshots are left in the test's folder (and in
$LIIFUSION_SCREENSHOTS where set: `LIIFUSION_SCREENSHOTS=docs` makes the README's)."""
import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio")
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
LR_HW = (48, 64)


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
  """The demo on a free port of 127.0.0.1, uploads capped at 64 pixels (its warm-up stays short)."""
  port = _free_port()
  folder = tmp_path_factory.mktemp("app")
  log = folder / "app.log"
  env = {**os.environ, "LIIFUSION_XLA_CACHE": str(folder / "xla")}
  with open(log, "w") as out:
    process = subprocess.Popen([sys.executable, "-m", "liifusion_jax", "demo", "--port", str(port),
                                "--max-side", "64"], stdout=out, stderr=subprocess.STDOUT, env=env)
  url = f"http://127.0.0.1:{port}/"
  try:
    deadline = time.monotonic() + 600
    while "serving on" not in log.read_text():
      assert process.poll() is None and time.monotonic() < deadline, log.read_text()
      time.sleep(0.5)
    assert "compiling the programs for uploads up to 64 pixels" in log.read_text()
    yield url
  finally:
    process.terminate()
    process.wait(timeout=60)


@pytest.fixture(scope="module")
def browser():
  if not (CHROMIUM and DRIVER):
    pytest.skip("headless Chromium absent (apt-get install chromium chromium-driver)")
  options = webdriver.ChromeOptions()
  options.binary_location = CHROMIUM
  for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
    options.add_argument(flag)
  driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(DRIVER))
  yield driver
  driver.quit()


def _screenshot(driver, folder, name):
  path = folder / name
  driver.save_screenshot(str(path))
  if os.environ.get("LIIFUSION_SCREENSHOTS"):
    shutil.copy(path, os.path.join(os.environ["LIIFUSION_SCREENSHOTS"], name))


def _fetch(url):
  with urllib.request.urlopen(url, timeout=60) as response, Image.open(io.BytesIO(response.read())) as image:
    return np.asarray(image.convert("RGB"), np.int16)


@pytest.mark.slow
def test_upload_upscale_compare_and_deep_zoom(browser, app_url, tmp_path):  # no browser: no app started
  import skimage.data
  photo = tmp_path / "cat.png"
  Image.fromarray(skimage.data.chelsea()[70:70 + LR_HW[0], 150:150 + LR_HW[1]]).save(photo)
  browser.get(app_url)
  wait = lambda seconds: WebDriverWait(browser, seconds, poll_frequency=0.5)
  wait(60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#upload input[type=file]"))
  browser.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(photo))
  wait(60).until(lambda d: d.find_element(By.CSS_SELECTOR, "#width input").get_attribute("value") == "256")
  browser.find_element(By.ID, "run").click()
  wait(300).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#result img")) == 2
                  and "->" in d.find_element(By.ID, "info").text)
  bicubic, model = (_fetch(img.get_attribute("src")) for img in browser.find_elements(By.CSS_SELECTOR, "#result img"))
  assert bicubic.shape == model.shape == (4 * LR_HW[0], 4 * LR_HW[1], 3)
  assert np.abs(bicubic - model).mean() > 1.0  # 8-bit levels
  assert browser.find_element(By.ID, "info").text.startswith("64x48 -> 256x192 in ")
  _screenshot(browser, tmp_path, "demo_compare.png")

  next(b for b in browser.find_elements(By.XPATH, "//button[@role='tab']") if "Deep zoom" in b.text).click()
  browser.switch_to.frame(wait(60).until(lambda d: d.find_element(By.ID, "zoom-frame")))
  wait(120).until(lambda d: d.execute_script("return window.tilesLoaded.length") > 0)
  top_level = browser.execute_script("return info.max_level")
  assert browser.execute_script("return Math.max(...window.tilesLoaded.map(t => t.level))") < top_level
  browser.execute_script("viewer.viewport.zoomTo(viewer.viewport.imageToViewportZoom(1.0), "
                         "new OpenSeadragon.Point(0.3, 0.25), true)")
  wait(300).until(lambda d: any(t["level"] == top_level for t in d.execute_script("return window.tilesLoaded")))
  assert browser.find_element(By.ID, "status").text.startswith("x30.00 of the LR image")
  key = browser.execute_script("return info.key")
  tile = next(t for t in browser.execute_script("return window.tilesLoaded") if t["level"] == top_level)
  assert _fetch(f"{app_url}zoom/{key}/{top_level}/{tile['col']}_{tile['row']}.png").std() > 1.0
  time.sleep(2)  # the tiles' fade-in
  browser.switch_to.default_content()
  _screenshot(browser, tmp_path, "demo_deep_zoom.png")
