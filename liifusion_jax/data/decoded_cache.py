"""Decoded training images in one file, memory-mapped read-only by every process that reads them.

With `data.cache`, the images of a folder are decoded once into `<cache_dir>/<folder>-<id>-<key>.decoded`:
the pixel arrays one after another (each at a 64-byte aligned offset), a JSON index (each array's
shape, dtype and offset) and a 16-byte trailer (the index's length, a magic). The main process and
every grain worker map the same file, so the page cache holds the one decoded copy however many
workers there are, and a source pickles to its file name and index. A restart, or another run on the
same folder, maps the file again instead of decoding.

`key` hashes each image file's name, byte size and mtime (ns), Pillow's version and this format's: an
added, removed or changed image gives another file name, so that one is decoded anew and the folder's
older files are deleted. Names, sizes and mtimes rather than content hashes: hashing would read every
image file at every start (3.5 GB of PNG for DIV2K), and every ordinary edit or copy moves the mtime;
not noticed is a file rewritten with its old byte size and its old mtime put back (`touch -d`).

The file is written under an exclusive lock on `<folder>-<id>.lock` into a hidden temporary file
(`.<folder>-<id>-<key>.decoded.<random>.tmp`), flushed to disk, then renamed into place: a crash
leaves no file with a valid trailer, and a second process building the same cache says it waits, then
maps the first one's file. A temporary that a killed build left is removed by the next build of that
folder (it holds the lock, so no live build owns one). The index holds a CRC-32 of each image's
pixels, checked when a process opens the file (about 2 GB/s); a file whose trailer, index or
checksums do not check out (truncated, corrupt, overwritten) is decoded anew.
"""
import concurrent.futures
import fcntl
import glob
import hashlib
import json
import logging
import mmap
import os
import shutil
import struct
import tempfile
import zlib

import numpy as np
import PIL

from liifusion_jax.config import ConfigError
from liifusion_jax.data import images

DEFAULT_DIR = os.path.join("~", ".cache", "liifusion_jax", "decoded")
FORMAT = 2  # 2: a checksum of each image's pixels in the index
_MAGIC = b"LIIFdec1"
_TRAILER = struct.Struct("<Q8s")  # index length, magic
_ALIGN = 64

log = logging.getLogger(__name__)


def _digest(text):
  return hashlib.sha256(text.encode()).hexdigest()[:16]


def _file_key(paths):
  """What the decoded arrays depend on: each file's name, size and mtime, the decoder's version."""
  stats = []
  for path in paths:
    stat = os.stat(path)
    stats.append((os.path.basename(path), stat.st_size, stat.st_mtime_ns))
  return _digest(json.dumps([FORMAT, PIL.__version__, stats]))


class DecodedImages:
  """The decoded images of a cache file as read-only arrays (`images.read_image`'s dtypes)."""

  def __init__(self, path, entries):
    self.path = path
    self.entries = entries  # [(shape, dtype str, offset)]
    self._map = None

  def __len__(self):
    return len(self.entries)

  def hw(self, i):
    return tuple(self.entries[i][0][:2])

  def __getitem__(self, i):
    if self._map is None:  # first access in this process (the main one or a worker)
      try:
        with open(self.path, "rb") as f:
          self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
      except FileNotFoundError:
        raise FileNotFoundError(f"decoded image cache {self.path} was deleted while in use "
                                "(a run on a changed folder replaces it); restart to decode again") from None
    shape, dtype, offset = self.entries[i]
    return np.frombuffer(self._map, dtype, int(np.prod(shape)), offset).reshape(shape)

  def __getstate__(self):
    return {"path": self.path, "entries": self.entries, "_map": None}  # workers map the file themselves


def _read_index(path, key, warn=True):
  """The entries of the complete, undamaged cache file at `path`, or None (absent, or truncated,
  corrupt or with pixels that fail their checksum: logged where `warn`)."""
  try:
    with open(path, "rb") as f:
      size = os.fstat(f.fileno()).st_size
      f.seek(max(size - _TRAILER.size, 0))
      length, magic = _TRAILER.unpack(f.read(_TRAILER.size).rjust(_TRAILER.size, b"\0"))
      if magic != _MAGIC or length > size - _TRAILER.size:
        raise ValueError("no complete trailer: truncated or not a cache file")
      data_end = size - _TRAILER.size - length
      f.seek(data_end)
      index = json.loads(f.read(length))
      entries = [(tuple(shape), dtype, offset) for shape, dtype, offset, _ in index["entries"]]
      ends = [offset + int(np.prod(shape)) * np.dtype(dtype).itemsize for shape, dtype, offset in entries]
      if index["key"] != key or max(ends, default=0) > data_end:
        raise ValueError("its index does not match its name or its size")
      with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as pixels:
        for number, ((_, _, offset), end, (*_, crc)) in enumerate(zip(entries, ends, index["entries"])):
          if zlib.crc32(pixels[offset:end]) != crc:
            raise ValueError(f"the pixels of image {number} fail their checksum (the file is damaged)")
    return entries
  except FileNotFoundError:
    return None
  except (OSError, ValueError, KeyError, TypeError) as e:
    if warn:
      log.warning("decoded image cache %s is unusable (%s); decoding again", path, e)
    return None


def _check_space(paths, folder):
  """ConfigError when the folder's free space cannot hold the decoded images (as `read_image` stores
  them: 3 bytes a pixel, 12 for 16-bit greyscale)."""
  need = sum(map(images.decoded_bytes, paths))
  free = shutil.disk_usage(folder).free
  if free < need:
    raise ConfigError(f"decoding {len(paths)} images needs {need / 1e9:.2f} GB in {folder} and "
                      f"{free / 1e9:.2f} GB are free; set data.cache_dir to a bigger disk or "
                      "data.cache=False")


def _temporary(path):
  """A new hidden temporary file beside `path`, named after it: `.<name>.<random>.tmp`."""
  return tempfile.mkstemp(dir=os.path.dirname(path), prefix=f".{os.path.basename(path)}.", suffix=".tmp")


def _remove_stale_temporaries(cache_dir, name):
  """Removes the temporaries of builders of `name` that died (kill -9, power loss): called under
  `name`'s lock, which every live builder holds, so none of them is in use."""
  for pattern in (f".{glob.escape(name)}-*.tmp", f"{glob.escape(name)}-*.tmp"):  # the second: earlier versions'
    for stale in glob.glob(os.path.join(glob.escape(cache_dir), pattern)):
      print(f"note: removing {stale}, left by a cache build that was stopped")
      os.unlink(stale)


def _write(path, paths, key):
  """Decodes `paths` (in threads: Pillow decodes without the GIL) into a new cache file at `path`;
  its entries, as `_read_index` gives them (the file is not read back: the checksums were just
  taken from the same bytes)."""
  _check_space(paths, os.path.dirname(path))
  fd, tmp = _temporary(path)
  pool = concurrent.futures.ThreadPoolExecutor(min(8, os.cpu_count() or 1))
  try:
    entries = []
    with os.fdopen(fd, "wb") as f:
      for array in pool.map(images.read_image, paths):
        offset = -(-f.tell() // _ALIGN) * _ALIGN
        f.seek(offset)
        data = np.ascontiguousarray(array).data
        f.write(data)
        entries.append((list(array.shape), array.dtype.str, offset, zlib.crc32(data)))
      index = json.dumps({"key": key, "entries": entries}).encode()
      f.write(index + _TRAILER.pack(len(index), _MAGIC))
      f.flush()
      os.fsync(f.fileno())
      os.fchmod(f.fileno(), 0o644)  # mkstemp's 0600 would keep a shared cache folder's other users out
    os.replace(tmp, path)
    return [(tuple(shape), dtype, offset) for shape, dtype, offset, _ in entries]
  except BaseException:
    os.unlink(tmp)
    raise
  finally:
    pool.shutdown(cancel_futures=True)  # after an error or Ctrl-C, the images not yet decoded are not


def decoded_images(paths, cache_dir, name):
  """The images of `paths` from their cache file in `cache_dir`, decoding them first if needed.

  name: the folder's identity in `cache_dir` (a readable stem plus a hash of what it selects); its
  cache files are `<name>-<key>.decoded`. Raises ConfigError where the cache folder cannot be used
  (not a folder, no permission, no room), naming it.
  """
  cache_dir = os.path.expanduser(os.fspath(cache_dir))
  key = _file_key(paths)
  try:
    return _decoded_images(paths, cache_dir, name, key)
  except OSError as error:
    where = error.filename or cache_dir
    raise ConfigError(f"decoded image cache {where}: {error.strerror or error}; set data.cache_dir to "
                      "a writable folder with room for the decoded images, or data.cache=False") from None


def _decoded_images(paths, cache_dir, name, key):
  os.makedirs(cache_dir, exist_ok=True)
  path = os.path.join(cache_dir, f"{name}-{key}.decoded")
  entries = _read_index(path, key, warn=False)  # said once, below, by the process that decodes
  if entries is None:
    lock_path = os.path.join(cache_dir, f"{name}.lock")
    with open(lock_path, "a") as lock:
      _lock(lock, lock_path)  # released when closed
      entries = _read_index(path, key)  # another process may have built it while this one waited
      if entries is None:
        _remove_stale_temporaries(cache_dir, name)
        print(f"note: decoding {len(paths)} images of {os.path.dirname(paths[0])} once into {path}; "
              "later runs map that file")
        entries = _write(path, paths, key)
        for stale in glob.glob(os.path.join(glob.escape(cache_dir), f"{glob.escape(name)}-*.decoded")):
          if stale != path:  # older versions of this folder
            os.unlink(stale)
  return DecodedImages(path, entries)


def _lock(file, path):
  """Takes the exclusive lock on `file`, saying so where another process holds it (it is building
  the same cache: this one then maps its file)."""
  try:
    fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    print(f"note: waiting for another process that is decoding into this cache (it holds {path})",
          flush=True)
    fcntl.flock(file, fcntl.LOCK_EX)
