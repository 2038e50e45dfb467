"""`--method bicubic` protocol check: MATLAB-bicubic Set5 reproduces the published Y-PSNR of bicubic."""
import numpy as np
import pytest
from PIL import Image

from liifusion_jax.evaluation.metrics import psnr
from liifusion_jax.resize.matlab_pil import imresize_matlab

PUBLISHED_SET5_BICUBIC = {2: 33.66, 3: 30.39, 4: 28.42}


@pytest.mark.parametrize("scale", sorted(PUBLISHED_SET5_BICUBIC))
def test_set5_bicubic_psnr(shared_data, scale):
  files = sorted((shared_data / "benchmark" / "Set5").glob("*.png"))
  assert len(files) == 5
  scores = []
  for f in files:
    hr = np.asarray(Image.open(f).convert("RGB"))
    h, w = hr.shape[:2]
    hr = hr[:h - h % scale, :w - w % scale]  # modcrop
    lr = imresize_matlab(hr, 1 / scale)  # uint8 in, uint8 out, as MATLAB
    sr = imresize_matlab(lr, scale)
    assert sr.shape == hr.shape and sr.dtype == np.uint8
    scores.append(psnr(sr / 255.0, hr / 255.0, scale=scale, protocol="benchmark"))
  assert np.mean(scores) == pytest.approx(PUBLISHED_SET5_BICUBIC[scale], abs=0.05)
