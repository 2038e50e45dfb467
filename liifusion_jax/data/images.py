"""Reading and writing image files as RGB HWC arrays, and their values as the networks meet them."""
import os

import numpy as np
from PIL import Image, ImageOps

from liifusion_jax.files import written_whole
from liifusion_jax.resize.matlab_pil import to_uint8

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
_SAVE_OPTIONS = {"JPEG": {"quality": 95}, "WEBP": {"quality": 95}}

# Greyscale modes wider than 8 bits: Pillow reads 16-bit PNGs as I;16 (newer) or I (older, int32).
_WIDE_GREY = ("I;16", "I;16L", "I;16B", "I;16N", "I")


class ImageError(ValueError):
  """A file that is not a readable image."""


def read_image(path):
  """One image file as RGB HWC: uint8 for 8-bit files, float32 in [0, 1] for 16-bit greyscale ones.

  Greyscale is repeated to three channels, alpha is dropped (not composited, as PIL's RGBA -> RGB and the
  reference's `.convert('RGB')`), palette images are expanded. 16-bit greyscale is divided by 65535 (the
  reference's `.convert('RGB')` would clip it at 255 instead). Pillow reads 16-bit-per-channel colour PNGs
  as 8-bit RGB, so those keep 8 bits. An EXIF orientation tag is applied (phone photographs).
  """
  try:
    with Image.open(path) as opened:
      im = ImageOps.exif_transpose(opened)
      if im.mode in _WIDE_GREY:
        grey = np.clip(np.asarray(im, np.float64), 0, 65535) / 65535.0
        return np.repeat(grey[..., None], 3, axis=-1).astype(np.float32)
      if im.mode == "F":
        grey = np.clip(np.asarray(im, np.float32), 0.0, 1.0)
        return np.repeat(grey[..., None], 3, axis=-1)
      if im.mode == "P":
        im = im.convert("RGBA")
      return np.asarray(im.convert("RGB"), np.uint8)
  except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
    raise ImageError(f"cannot read image {os.fspath(path)}: {e}") from None


def as_float01(img):
  """An image array from `read_image` (uint8 or float) as float32 in [0, 1].

  uint8 is divided by 255 in float32, the same values as torchvision's ToTensor.
  """
  img = np.asarray(img)
  if img.dtype == np.uint8:
    return img.astype(np.float32) / np.float32(255)
  return img.astype(np.float32)


def normalise(x):
  """[0, 1] images to the networks' [-1, 1] (the reference's data_norm: sub 0.5, div 0.5)."""
  return (x - 0.5) / 0.5


def load_image(path):
  """One image file as float32 RGB HWC in [0, 1]; raises `ImageError` if unreadable."""
  return as_float01(read_image(path))


def _header(path):
  """((W, H), mode) of an image file from its header, without decoding the pixels."""
  try:
    with Image.open(path) as im:
      return im.size, im.mode
  except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
    raise ImageError(f"cannot read image {os.fspath(path)}: {e}") from None


def image_size(path):
  """(H, W) of an image file from its header, without decoding the pixels."""
  (w, h), _ = _header(path)
  return h, w


def decoded_bytes(path):
  """The bytes of `read_image`'s array for an image file, from its header: 3 a pixel, 12 (float32)
  for 16-bit and float greyscale."""
  (w, h), mode = _header(path)
  return w * h * 3 * (4 if mode in _WIDE_GREY or mode == "F" else 1)


def list_images(folder):
  """Sorted paths of the image files (png, jpg, jpeg, bmp, webp; any case) directly inside `folder`."""
  folder = os.fspath(folder)
  if not os.path.isdir(folder):
    raise FileNotFoundError(f"image folder {folder} does not exist")
  names = sorted(n for n in os.listdir(folder)
                 if n.lower().endswith(EXTENSIONS) and not n.startswith("."))
  if not names:
    raise FileNotFoundError(f"image folder {folder} holds no images ({', '.join(EXTENSIONS)})")
  return [os.path.join(folder, n) for n in names]


def writable_format(path):
  """The Pillow format that writes files with `path`'s extension, or None."""
  fmt = Image.registered_extensions().get(os.path.splitext(os.fspath(path))[1].lower())
  return fmt if fmt in Image.SAVE else None


def check_writable_format(path):
  """The Pillow format of `path`'s extension; ImageError where Pillow cannot write it."""
  fmt = writable_format(path)
  if fmt is None:
    raise ImageError(f"cannot write {os.fspath(path)}: Pillow has no writer for "
                     f"{os.path.splitext(os.fspath(path))[1] or 'extensionless'} files")
  return fmt


def save_image(path, array01):
  """Writes an HWC (or HW) [0, 1] float image, rounded to 8 bits, in the format of `path`'s extension
  (JPEG and WebP at quality 95); creates the parent folder. Written whole, then renamed into place:
  a failed write (a full disk) leaves the earlier file, or none."""
  fmt = check_writable_format(path)
  image = Image.fromarray(to_uint8(array01))
  with written_whole(path) as file:
    image.save(file, format=fmt, **_SAVE_OPTIONS.get(fmt, {}))
