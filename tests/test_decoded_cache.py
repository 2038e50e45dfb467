"""The decoded-image cache file (`data.cache`): one mapped copy, reused, rebuilt when stale or broken."""
import fcntl
import logging
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

from cli_helpers import random_png_folder
from conftest import REPO
from liifusion_jax.config import ConfigError
from liifusion_jax.data import decoded_cache, images
from liifusion_jax.data.image_folder import ArraySource, ImageFolder
from liifusion_jax.data.pipeline import train_batches

SMALL = dict(patch=8, sample_q=40, scale_min=1, scale_max=4, bucket=16)


def _cache_files(cache):
  return sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock"))


@pytest.fixture
def counted_reads(monkeypatch):
  """The paths `images.read_image` decodes, in order (thread-safe: the cache decodes in threads)."""
  reads, lock, real = [], threading.Lock(), images.read_image

  def read(path):
    with lock:
      reads.append(os.path.basename(path))
    return real(path)

  monkeypatch.setattr(images, "read_image", read)
  return reads


def test_one_mapped_copy_equal_to_the_decoded_images(tmp_path):
  arrays = random_png_folder(tmp_path / "hr", [(40, 50), (33, 61), (48, 48)])
  wide = np.array([[0, 1000, 65535] * 10] * 20, np.uint16)  # 16-bit grey: float32 in the cache
  Image.fromarray(wide).save(tmp_path / "hr" / "3.png")
  src = ImageFolder(tmp_path / "hr", cache_dir=tmp_path / "cache")
  wants = arrays + [images.read_image(tmp_path / "hr" / "3.png")]
  assert wants[3].dtype == np.float32
  clone = pickle.loads(pickle.dumps(src))  # what a grain worker gets
  for s in (src, clone):
    for i, want in enumerate(wants):
      got = s[i]
      assert got.dtype == want.dtype and s.hw(i) == want.shape[:2]
      np.testing.assert_array_equal(got, want)
      assert not got.flags.writeable  # a view of the read-only mapping, not a private copy
  decoded_bytes = sum(a.nbytes for a in wants)
  assert len(pickle.dumps(src)) < decoded_bytes / 10  # the index travels, not the pixels
  (name,) = _cache_files(tmp_path / "cache")
  assert (tmp_path / "cache" / name).stat().st_mode & 0o777 == 0o644  # readable by a shared folder's users


def test_worker_batches_equal_in_memory_batches(tmp_path):
  arrays = random_png_folder(tmp_path / "hr", [(60, 70), (50, 40)])
  cached = ImageFolder(tmp_path / "hr", cache_dir=tmp_path / "cache")
  want = list(train_batches(ArraySource(arrays), seed=5, batch_size=2, num_steps=2, **SMALL))
  procs = train_batches(cached, seed=5, batch_size=2, num_steps=2, num_workers=1, **SMALL)
  got = list(procs)
  procs.close()
  assert len(got) == 2
  for a, b in zip(want, got):
    assert a.keys() == b.keys()
    for k in a:
      np.testing.assert_array_equal(a[k], b[k])


def test_restart_maps_the_file_without_decoding(tmp_path, counted_reads, capsys):
  arrays = random_png_folder(tmp_path / "hr", [(20, 30), (25, 21)])
  ImageFolder(tmp_path / "hr", cache_dir=tmp_path / "cache")
  assert sorted(counted_reads) == ["0.png", "1.png"]
  assert capsys.readouterr().out.startswith("note: decoding 2 images of ")
  counted_reads.clear()
  again = ImageFolder(tmp_path / "hr", cache_dir=tmp_path / "cache")
  np.testing.assert_array_equal(again[1], arrays[1])
  assert counted_reads == [] and capsys.readouterr().out == ""


def test_changed_added_or_removed_image_decodes_again(tmp_path, counted_reads):
  random_png_folder(tmp_path / "hr", [(20, 30), (25, 21)])
  cache = tmp_path / "cache"
  ImageFolder(tmp_path / "hr", cache_dir=cache)
  first = _cache_files(cache)

  changed = np.full((22, 30, 3), 7, np.uint8)
  Image.fromarray(changed).save(tmp_path / "hr" / "0.png")
  src = ImageFolder(tmp_path / "hr", cache_dir=cache)
  np.testing.assert_array_equal(src[0], changed)
  assert _cache_files(cache) != first and len(_cache_files(cache)) == 1  # the stale file is gone

  added = np.full((21, 21, 3), 9, np.uint8)
  Image.fromarray(added).save(tmp_path / "hr" / "2.png")
  src = ImageFolder(tmp_path / "hr", cache_dir=cache)
  assert len(src) == 3
  np.testing.assert_array_equal(src[2], added)

  (tmp_path / "hr" / "0.png").unlink()
  counted_reads.clear()
  src = ImageFolder(tmp_path / "hr", cache_dir=cache)
  assert len(src) == 2 and sorted(counted_reads) == ["1.png", "2.png"]
  np.testing.assert_array_equal(src[1], added)


def test_first_k_and_other_folders_keep_their_own_files(tmp_path):
  a = random_png_folder(tmp_path / "a", [(20, 30), (25, 21)])
  b = random_png_folder(tmp_path / "b", [(23, 24)], seed=1)
  cache = tmp_path / "cache"
  first = ImageFolder(tmp_path / "a", first_k=1, cache_dir=cache)
  whole = ImageFolder(tmp_path / "a", cache_dir=cache)
  other = ImageFolder(tmp_path / "b", cache_dir=cache)
  assert len(_cache_files(cache)) == 3
  np.testing.assert_array_equal(first[0], a[0])
  np.testing.assert_array_equal(whole[1], a[1])
  np.testing.assert_array_equal(other[0], b[0])


@pytest.mark.parametrize("damage", ["truncate", "garbage_index", "pixels", "empty"])
def test_broken_cache_file_is_decoded_again(tmp_path, caplog, damage):
  arrays = random_png_folder(tmp_path / "hr", [(20, 30), (25, 21)])
  cache = tmp_path / "cache"
  ImageFolder(tmp_path / "hr", cache_dir=cache)
  (name,) = _cache_files(cache)
  data = (cache / name).read_bytes()
  broken = {"truncate": data[:len(data) // 2],
            "garbage_index": data[:-40] + b"x" * 24 + data[-16:],
            "pixels": data[:100] + bytes(255 - b for b in data[100:110]) + data[110:],
            "empty": b""}[damage]
  (cache / name).write_bytes(broken)
  with caplog.at_level(logging.WARNING):
    src = ImageFolder(tmp_path / "hr", cache_dir=cache)
  (warning,) = [r.getMessage() for r in caplog.records if "unusable" in r.getMessage()]
  assert name in warning and "\n" not in warning
  for i, want in enumerate(arrays):
    np.testing.assert_array_equal(src[i], want)
  assert (cache / name).read_bytes() == data


def test_crash_mid_write_leaves_no_cache(tmp_path, monkeypatch):
  arrays = random_png_folder(tmp_path / "hr", [(20, 30), (25, 21), (22, 22)])
  real = images.read_image

  def crash_on_the_second(path):
    if path.endswith("1.png"):
      raise KeyboardInterrupt
    return real(path)

  monkeypatch.setattr(images, "read_image", crash_on_the_second)
  with pytest.raises(KeyboardInterrupt):
    ImageFolder(tmp_path / "hr", cache_dir=tmp_path / "cache")
  assert _cache_files(tmp_path / "cache") == []  # neither a complete-looking file nor a temporary one
  monkeypatch.setattr(images, "read_image", real)
  np.testing.assert_array_equal(ImageFolder(tmp_path / "hr", cache_dir=tmp_path / "cache")[2], arrays[2])


def test_concurrent_builders_decode_once(tmp_path, counted_reads):
  arrays = random_png_folder(tmp_path / "hr", [(20, 30), (25, 21), (22, 22)])
  built = [None, None]

  def build(slot):
    built[slot] = ImageFolder(tmp_path / "hr", cache_dir=tmp_path / "cache")

  threads = [threading.Thread(target=build, args=(i,)) for i in range(2)]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  assert sorted(counted_reads) == ["0.png", "1.png", "2.png"]  # the second waited, then mapped the file
  for src in built:
    np.testing.assert_array_equal(src[1], arrays[1])


def test_too_little_disk_space_is_one_line(tmp_path, monkeypatch):
  random_png_folder(tmp_path / "hr", [(20, 30)])
  monkeypatch.setattr(decoded_cache.shutil, "disk_usage", lambda _: type("U", (), {"free": 100})())
  with pytest.raises(ConfigError, match=r"needs 0\.00 GB .* data\.cache_dir") as info:
    ImageFolder(tmp_path / "hr", cache_dir=tmp_path / "cache")
  assert "\n" not in str(info.value)
  assert _cache_files(tmp_path / "cache") == []


def test_unreadable_image_fails_naming_it_and_leaves_no_cache(tmp_path):
  random_png_folder(tmp_path / "hr", [(20, 30), (25, 21)])
  data = (tmp_path / "hr" / "1.png").read_bytes()
  (tmp_path / "hr" / "1.png").write_bytes(data[:-40])  # the header reads, the pixels do not
  with pytest.raises(images.ImageError, match="1.png"):
    ImageFolder(tmp_path / "hr", cache_dir=tmp_path / "cache")
  assert _cache_files(tmp_path / "cache") == []


def test_the_space_check_counts_the_stored_bytes(tmp_path):
  random_png_folder(tmp_path / "hr", [(20, 30)])
  Image.fromarray(np.full((20, 30), 40000, np.uint16)).save(tmp_path / "hr" / "wide.png")
  for name in ("0.png", "wide.png"):
    path = tmp_path / "hr" / name
    assert images.decoded_bytes(path) == images.read_image(path).nbytes  # 1800 and 7200


def test_a_killed_builds_temporary_is_removed_before_the_space_check(tmp_path, monkeypatch, capsys):
  arrays = random_png_folder(tmp_path / "hr", [(20, 30)])
  cache = tmp_path / "cache"
  cache.mkdir()
  name = decoded_cache.os.path.basename(ImageFolder(tmp_path / "hr", cache_dir=cache)._decoded.path)
  (cache / name).unlink()
  leftovers = [cache / f".{name}.k1ll3d.tmp", cache / f"{name}.0ld3r.tmp"]  # this version's, an older one's
  for leftover in leftovers:
    leftover.write_bytes(b"\0" * 5000)
  checked, disk_usage = [], shutil.disk_usage
  monkeypatch.setattr(decoded_cache.shutil, "disk_usage",
                      lambda folder: checked.append(sorted(os.listdir(folder))) or disk_usage(folder))
  np.testing.assert_array_equal(ImageFolder(tmp_path / "hr", cache_dir=cache)[0], arrays[0])
  lock = f"{name.rsplit('-', 1)[0]}.lock"
  assert checked == [[lock]]  # the leftovers were gone before the space check
  assert sorted(os.listdir(cache)) == sorted([name, lock])
  out = capsys.readouterr().out
  assert all(f"removing {leftover}, left by a cache build that was stopped" in out for leftover in leftovers)


SIGTERM_DURING_BUILD = """
import sys, time
from liifusion_jax.cli.errors import user_errors
from liifusion_jax.data import images
from liifusion_jax.data.image_folder import ImageFolder

real = images.read_image
images.read_image = lambda path: time.sleep(0.5) or real(path)
with user_errors():
  ImageFolder(sys.argv[1], cache_dir=sys.argv[2])
"""


def test_sigterm_during_a_build_is_one_line_and_leaves_no_temporary(tmp_path):
  random_png_folder(tmp_path / "hr", [(20, 30)] * 40)
  build = subprocess.Popen([sys.executable, "-c", SIGTERM_DURING_BUILD, str(tmp_path / "hr"),
                            str(tmp_path / "cache")], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
  assert "note: decoding 40 images" in build.stdout.readline()
  time.sleep(1)
  assert [p.name for p in (tmp_path / "cache").iterdir() if p.name.endswith(".tmp")][0].startswith(".")
  build.send_signal(signal.SIGTERM)
  _, err = build.communicate(timeout=60)
  assert build.returncode == 143 and err == "error: interrupted (SIGTERM)\n", err
  assert _cache_files(tmp_path / "cache") == []


def test_a_full_cache_disk_is_one_line_naming_the_folder(tmp_path, monkeypatch):
  random_png_folder(tmp_path / "hr", [(20, 30)])
  real = decoded_cache._temporary

  def on_a_full_disk(path):
    fd, tmp = real(path)
    os.close(fd)
    return os.open("/dev/full", os.O_WRONLY), tmp  # every write: No space left on device

  monkeypatch.setattr(decoded_cache, "_temporary", on_a_full_disk)
  with pytest.raises(ConfigError, match=rf"^decoded image cache {tmp_path / 'cache'}: No space left on "
                                        r"device; set data.cache_dir to a writable folder"):
    ImageFolder(tmp_path / "hr", cache_dir=tmp_path / "cache")
  assert _cache_files(tmp_path / "cache") == []


def test_a_cache_dir_that_is_a_file_is_one_line(tmp_path):
  random_png_folder(tmp_path / "hr", [(20, 30)])
  (tmp_path / "cache").write_text("not a folder")
  with pytest.raises(ConfigError, match=rf"^decoded image cache {tmp_path / 'cache'}: File exists; set "
                                        "data.cache_dir"):
    ImageFolder(tmp_path / "hr", cache_dir=tmp_path / "cache")


def test_a_build_waiting_for_another_says_so(tmp_path, capfd):
  arrays = random_png_folder(tmp_path / "hr", [(20, 30)])
  cache = tmp_path / "cache"
  name = decoded_cache.os.path.basename(ImageFolder(tmp_path / "hr", cache_dir=cache)._decoded.path)
  (cache / name).unlink()
  built = []
  with open(cache / f"{name.rsplit('-', 1)[0]}.lock", "a") as other:
    fcntl.flock(other, fcntl.LOCK_EX)  # another process building this cache
    thread = threading.Thread(target=lambda: built.append(ImageFolder(tmp_path / "hr", cache_dir=cache)))
    thread.start()
    time.sleep(1)
    assert "note: waiting for another process that is decoding into this cache" in capfd.readouterr().out
    assert not built
  thread.join()
  np.testing.assert_array_equal(built[0][0], arrays[0])
