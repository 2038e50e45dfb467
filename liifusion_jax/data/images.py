"""Reading and writing image files as RGB HWC arrays, and their values as the networks meet them."""
import os
import warnings

import numpy as np
from PIL import Image, ImageOps

from liifusion_jax.files import written_whole
from liifusion_jax.resize.matlab_pil import to_uint8

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
_SAVE_OPTIONS = {"JPEG": {"quality": 95}, "WEBP": {"quality": 95}}

# Greyscale modes wider than 8 bits: Pillow reads 16-bit PNGs as I;16 (newer) or I (older, int32).
_WIDE_GREY = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_NATIVE_MODES = ("L", "LA", "RGB", "RGBA")
# The modes each format holds (others: grey and RGB); what it does not is dropped by `save_image`.
_HOLDS = {"PNG": ("L", "LA", "RGB", "RGBA", "I;16"), "TIFF": ("L", "LA", "RGB", "RGBA", "I;16"),
          "WEBP": ("L", "LA", "RGB", "RGBA")}
_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}  # channels -> mode of an 8-bit array


class ImageError(ValueError):
  """A file that is not a readable image."""


def read_native(path):
  """One image file as an array in its own mode (`native_array`); raises `ImageError` if unreadable.
  An EXIF orientation tag is applied (phone photographs)."""
  try:
    with Image.open(path) as opened:
      return native_array(ImageOps.exif_transpose(opened))
  except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
    raise ImageError(f"cannot read image {os.fspath(path)}: {e}") from None


def native_array(im):
  """A PIL image as an array in its own mode: (H, W) grey, (H, W, 2) grey + alpha, (H, W, 3) RGB or
  (H, W, 4) RGBA; uint8, uint16 for 16-bit greyscale, float32 in [0, 1] for floating-point greyscale.

  Palette images are expanded (to RGBA where they have a transparent colour), 1-bit ones to grey,
  other modes (CMYK, YCbCr, ...) converted to RGB (RGBA where they have alpha). Pillow reads
  16-bit-per-channel colour PNGs as 8-bit RGB, so those come as uint8.
  """
  if im.mode in _WIDE_GREY:
    return np.clip(np.asarray(im).astype(np.int64), 0, 65535).astype(np.uint16)
  if im.mode == "F":
    return np.clip(np.asarray(im, np.float32), 0.0, 1.0)
  if im.mode == "1":
    im = im.convert("L")
  elif im.mode in ("P", "PA"):
    im = im.convert("RGBA" if im.mode == "PA" or "transparency" in im.info else "RGB")
  elif im.mode not in _NATIVE_MODES:
    im = im.convert("RGBA" if "A" in im.getbands() or "a" in im.getbands() else "RGB")
  return np.asarray(im, np.uint8)


def read_image(path):
  """One image file as RGB HWC (`as_rgb` of `read_native`): what training and evaluation read."""
  return as_rgb(read_native(path))


def as_rgb(image):
  """A `native_array` as RGB HWC: uint8, or float32 in [0, 1] for 16-bit (divided by 65535; the
  reference's `.convert('RGB')` would clip it at 255 instead) and floating-point ones.

  Greyscale is repeated to three channels, alpha is dropped (not composited, as PIL's RGBA -> RGB and
  the reference's `.convert('RGB')`).
  """
  if image.dtype == np.uint16:
    image = (image / 65535.0).astype(np.float32)
  if image.ndim == 3 and image.shape[-1] in (2, 4):
    image = image[..., :-1]
  if image.ndim == 2 or image.shape[-1] == 1:
    image = np.repeat(image.reshape(*image.shape[:2], 1), 3, axis=-1)
  return image


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
  """((W, H), mode) of an image file from its header, without decoding the pixels (Pillow's warning
  on a large image is left out: the callers check the size against the pixel budget)."""
  try:
    with warnings.catch_warnings():
      warnings.simplefilter("ignore", Image.DecompressionBombWarning)
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


def save_image(path, image):
  """Writes an image in the format of `path`'s extension (JPEG and WebP at quality 95); creates the
  parent folder. Written whole, then renamed into place: a failed write (a full disk) leaves the
  earlier file, or none.

  Args:
    path: the file; its extension picks the format.
    image: a float HWC (or HW) image in [0, 1], rounded to 8 bits, or a `native_array` (uint8 or
      uint16) written in its own mode where the format holds it.

  Returns:
    What the format cannot hold and was dropped: () or some of "16-bit depth" (rounded to 8 bits),
    "alpha".
  """
  fmt = check_writable_format(path)
  image, dropped = _held(to_pil(image), _HOLDS.get(fmt, ("L", "RGB")))
  with written_whole(path) as file:
    image.save(file, format=fmt, **_SAVE_OPTIONS.get(fmt, {}))
  return dropped


def to_pil(image):
  """A float [0, 1] image (rounded to 8 bits) or a `native_array` as a PIL image of its mode."""
  image = np.asarray(image)
  if image.dtype == np.uint16:
    return Image.fromarray(image.reshape(image.shape[:2]))  # mode I;16
  if image.dtype != np.uint8:
    image = to_uint8(image)
  channels = 1 if image.ndim == 2 else image.shape[-1]
  return Image.fromarray(image.reshape(image.shape[:2]) if channels == 1 else image, _MODES[channels])


def _held(image, modes):
  """`image` in a mode of `modes`, and what was dropped to get there."""
  dropped = []
  if image.mode == "I;16" and "I;16" not in modes:
    image = Image.fromarray(to_uint8(np.asarray(image) / 65535.0))
    dropped.append("16-bit depth")
  if image.mode not in modes and image.mode in ("LA", "RGBA"):
    image = image.convert(image.mode[:-1])
    dropped.append("alpha")
  return image, tuple(dropped)
