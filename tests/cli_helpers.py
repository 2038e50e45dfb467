"""Shared pieces of the command-line tests: test images and the one-line user-error check."""
import numpy as np
import pytest
from PIL import Image


def smooth_photo(h, w, seed=0):
  """A smooth random colour image (bicubic PSNR of noise would say little)."""
  rng = np.random.default_rng(seed)
  small = rng.uniform(0, 255, (h // 4 + 2, w // 4 + 2, 3)).astype(np.uint8)
  return np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC))


def random_png_folder(path, shapes, seed=0):
  """Random 8-bit RGB PNGs 0.png, 1.png, ... of the given (H, W) in a new folder; returns the arrays."""
  rng = np.random.default_rng(seed)
  path.mkdir()
  arrays = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in shapes]
  for i, a in enumerate(arrays):
    Image.fromarray(a).save(path / f"{i}.png")
  return arrays


def exit_status(main, argv):
  """The exit status of `main(argv)`: what it returns, or the code of the SystemExit it raises."""
  try:
    return main(argv)
  except SystemExit as end:
    return end.code


def one_line_user_error(main, argv, capsys):
  """Runs `main(argv)`, expecting a nonzero exit with one stderr line and no traceback; returns it."""
  with pytest.raises(SystemExit) as exc:
    main(argv)
  err = capsys.readouterr().err
  assert exc.value.code not in (0, None)
  assert "Traceback" not in err
  lines = [line for line in err.splitlines() if line.strip()]
  assert len(lines) == 1, err
  return lines[0]
