import gc
import logging
import os
import pathlib
import signal
import time

import jax
import numpy as np
import pytest
from PIL import Image

from cli_helpers import one_line_user_error, random_png_folder
from conftest import REPO
from liifusion_jax.cli import train as train_cli
from liifusion_jax.config import ConfigError, apply_overrides, load_config
from liifusion_jax.coords import make_coord
from liifusion_jax.data import defaults, images, pipeline
from liifusion_jax.data.image_folder import ArraySource, ImageFolder
from liifusion_jax.data.pipeline import BatchAtStep, prefetch_to_device, train_batches
from liifusion_jax.data.sampler import check_sampler_args, make_batch
from liifusion_jax.models.stage1 import padded_prior_input
from liifusion_jax.resize.matlab_pil import resize_pil_bicubic
from liifusion_jax.resize.torch_bicubic import bicubic_matrix, resize_bicubic_torch
from liifusion_jax.train import loop
from cli_helpers import full_disk

SMALL = dict(patch=8, sample_q=40, scale_min=1, scale_max=4, bucket=16)


def _photos(*shapes, repeat=1):
  rng = np.random.default_rng(0)
  return ArraySource([rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in shapes], repeat)


# ---------------------------------------------------------------------------- image files


def test_reads_grey_rgba_palette_and_16bit(tmp_path):
  rng = np.random.default_rng(0)
  grey = rng.integers(0, 256, (5, 7), dtype=np.uint8)
  Image.fromarray(grey).save(tmp_path / "grey.png")
  np.testing.assert_array_equal(images.read_image(tmp_path / "grey.png"), np.stack([grey] * 3, -1))

  rgba = rng.integers(0, 256, (5, 7, 4), dtype=np.uint8)
  Image.fromarray(rgba).save(tmp_path / "rgba.png")
  np.testing.assert_array_equal(images.read_image(tmp_path / "rgba.png"), rgba[..., :3])

  pal = Image.fromarray(rng.integers(0, 3, (5, 7), dtype=np.uint8), mode="P")
  pal.putpalette([255, 0, 0, 0, 255, 0, 10, 20, 30] + [0] * 759)
  pal.save(tmp_path / "pal.png")
  want = np.array([[255, 0, 0], [0, 255, 0], [10, 20, 30]], np.uint8)[np.asarray(pal)]
  np.testing.assert_array_equal(images.read_image(tmp_path / "pal.png"), want)

  wide = np.array([[0, 1000, 65535], [300, 40000, 7]], np.uint16)
  Image.fromarray(wide).save(tmp_path / "wide.png")
  got = images.load_image(tmp_path / "wide.png")
  assert got.shape == (2, 3, 3) and got.dtype == np.float32
  np.testing.assert_allclose(got[..., 1], wide / 65535.0, atol=1e-7)


def test_load_image_formats_float01(tmp_path):
  u8 = np.random.default_rng(1).integers(0, 256, (6, 9, 3), dtype=np.uint8)
  for ext in ("png", "bmp", "webp", "jpg", "JPEG"):
    Image.fromarray(u8).save(tmp_path / f"a.{ext}", **({"lossless": True} if ext == "webp" else {}))
    got = images.load_image(tmp_path / f"a.{ext}")
    assert got.shape == (6, 9, 3) and got.dtype == np.float32
    assert 0 <= got.min() and got.max() <= 1
    if ext in ("png", "bmp", "webp"):
      np.testing.assert_array_equal(got, u8.astype(np.float32) / np.float32(255))


@pytest.mark.parametrize("content", [b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 40])
def test_corrupt_file_raises_image_error_naming_it(tmp_path, content):
  path = tmp_path / "broken.png"
  path.write_bytes(content)
  with pytest.raises(images.ImageError, match="broken.png") as info:
    images.load_image(path)
  assert isinstance(info.value, ValueError) and "\n" not in str(info.value)


def test_truncated_png_raises_image_error(tmp_path):
  Image.fromarray(np.zeros((64, 64, 3), np.uint8) + 7).save(tmp_path / "full.png")
  data = (tmp_path / "full.png").read_bytes()
  (tmp_path / "cut.png").write_bytes(data[:len(data) // 2])
  with pytest.raises(images.ImageError, match="cut.png"):
    images.read_image(tmp_path / "cut.png")


def test_list_images_sorted_filtered_and_errors(tmp_path):
  with pytest.raises(FileNotFoundError, match="nowhere"):
    images.list_images(tmp_path / "nowhere")
  (tmp_path / "notes.txt").write_text("x")
  with pytest.raises(FileNotFoundError, match=str(tmp_path)):
    images.list_images(tmp_path)
  for name in ("b.PNG", "a.jpg", "c.webp"):
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / name)
  assert [p.split("/")[-1] for p in images.list_images(tmp_path)] == ["a.jpg", "b.PNG", "c.webp"]


def test_save_image_round_trip(tmp_path):
  x = np.random.default_rng(2).random((5, 6, 3))
  images.save_image(tmp_path / "sub" / "x.png", x)
  got = images.read_image(tmp_path / "sub" / "x.png")
  np.testing.assert_array_equal(got, np.floor(x * 255 + 0.5).astype(np.uint8))


def test_save_image_on_a_full_disk_keeps_the_earlier_file_or_leaves_none(tmp_path):
  noise = np.random.default_rng(4).random((64, 64, 3))  # ~12 KB as PNG
  images.save_image(tmp_path / "out.png", noise[:8, :8])
  earlier = (tmp_path / "out.png").read_bytes()
  for name in ("out.png", "new.png"):
    with full_disk(4096), pytest.raises(OSError, match=f"File too large: '.*{name}'"):
      images.save_image(tmp_path / name, noise)
  assert os.listdir(tmp_path) == ["out.png"]  # no partial file, nothing at new.png to block a retry
  assert (tmp_path / "out.png").read_bytes() == earlier
  images.save_image(tmp_path / "new.png", noise)  # the retry, with room
  np.testing.assert_array_equal(images.read_image(tmp_path / "new.png"),
                                np.floor(noise * 255 + 0.5).astype(np.uint8))


def test_image_folder_first_k_repeat_cache(tmp_path):
  rng = np.random.default_rng(3)
  arrays = [rng.integers(0, 256, (10 + i, 12, 3), dtype=np.uint8) for i in range(3)]
  for i, a in enumerate(arrays):
    Image.fromarray(a).save(tmp_path / f"{i}.png")
  for cache in (None, tmp_path / "cache"):
    src = ImageFolder(tmp_path, first_k=2, repeat=3, cache_dir=cache)
    assert len(src) == 6
    for i in range(6):
      np.testing.assert_array_equal(src[i], arrays[i % 2])
      assert src.hw(i) == arrays[i % 2].shape[:2]
    with pytest.raises(IndexError):
      src[6]


@pytest.mark.parametrize("cache", [False, True])
def test_train_dir_of_several_folders_repeat_per_epoch(tmp_path, cache):
  div2k = random_png_folder(tmp_path / "DIV2K", [(20, 21), (22, 23)], seed=0)
  flickr = random_png_folder(tmp_path / "Flickr2K", [(24, 25)], seed=1)
  config = load_config(f"{REPO}/configs/stage1.py")
  # As `--config.data.train_dir=A,B` on the command line.
  apply_overrides(config, [f"data.train_dir={tmp_path / 'DIV2K'},{tmp_path / 'Flickr2K'}",
                           "data.repeat=2", f"data.cache={cache}", f"data.cache_dir={tmp_path / 'c'}"])
  src = loop._train_source(config.data)
  want = div2k + flickr
  assert len(src) == 6
  for i in range(6):
    np.testing.assert_array_equal(src[i], want[i % 3])
  # One epoch (len(src) samples) shows every image of every folder `repeat` times.
  epoch = BatchAtStep(src, seed=0, batch_size=3).image_indices
  seen = np.concatenate([epoch(0), epoch(1)]) % 3
  assert sorted(seen) == [0, 0, 1, 1, 2, 2]

  apply_overrides(config, ["data.first_k=1", "data.builtin_photos=True"])  # first_k of each folder
  src = loop._train_source(config.data)
  assert len(src) == 2 * (2 + len(defaults.TRAIN_PHOTOS))
  np.testing.assert_array_equal(src[1], flickr[0])


def test_train_dir_errors_name_the_folder(tmp_path, capsys):
  random_png_folder(tmp_path / "a", [(20, 21)], seed=0)
  (tmp_path / "empty").mkdir()
  config = load_config(f"{REPO}/configs/stage1.py")
  with pytest.raises(ConfigError, match="empty folder name"):
    apply_overrides(config, [f"data.train_dir={tmp_path / 'a'},,{tmp_path / 'a'}"])
    loop._train_source(config.data)
  with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'empty'} holds no images"):
    apply_overrides(config, [f"data.train_dir={tmp_path / 'a'},{tmp_path / 'empty'}",
                             f"data.cache_dir={tmp_path / 'cache'}"])
    loop._train_source(config.data)
  assert not (tmp_path / "cache").exists()  # checked before decoding the folders before it
  line = one_line_user_error(train_cli.main, [
      "--config", f"{REPO}/configs/stage1.py", "--workdir", str(tmp_path / "run"),
      f"--config.data.train_dir={tmp_path / 'a'},{tmp_path / 'missing'}"], capsys)
  assert line.startswith("error: ") and f"{tmp_path / 'missing'} does not exist" in line


def test_a_folder_named_twice_in_train_dir_counts_once(tmp_path, capsys):
  arrays = random_png_folder(tmp_path / "a", [(20, 21), (22, 23)], seed=0)
  (tmp_path / "link").symlink_to(tmp_path / "a")
  config = load_config(f"{REPO}/configs/stage1.py")
  apply_overrides(config, [f"data.train_dir={tmp_path / 'a'},{tmp_path / 'link'},{tmp_path / 'a'}/", "data.repeat=1",
                           "data.cache=False"])
  src = loop._train_source(config.data)
  assert len(src) == 2
  np.testing.assert_array_equal(src[1], arrays[1])
  out = capsys.readouterr().out.splitlines()
  assert out == [f"warning: data.train_dir names {tmp_path / 'a'} twice ({str(tmp_path / 'a')!r}, "
                 f"{name!r}); it is used once" for name in (str(tmp_path / "link"), f"{tmp_path}/a/")]


# ---------------------------------------------------------------------------- sampler


def _pixel(coord, size):
  """Index of the pixel whose centre is `coord` on a grid of `size`."""
  return np.rint(((coord + 1) * size - 1) / 2).astype(int)


@pytest.mark.parametrize("sample_patch", [False, True])
def test_batch_shapes_ranges_and_gt_at_coords(sample_patch):
  src = _photos((60, 70), (50, 40), (45, 80))
  b = make_batch(src, np.random.default_rng(4), batch_size=3, sample_patch=sample_patch, **SMALL)
  s = float(b["scale"][0])
  crop = round(8 * s)
  hb = -(-crop // 16) * 16
  q = 64 if sample_patch else 40
  assert {k: v.shape for k, v in b.items()} == {
      "inp": (3, 8, 8, 3), "gt": (3, q, 3), "coord": (3, q, 2), "cell": (3, q, 2),
      "hr": (3, hb, hb, 3), "lr_to_hr_matrix": (3, hb, 8), "scale": (3,)}
  assert all(v.dtype == np.float32 for v in b.values())
  assert 1 <= s <= 4 and np.all(b["scale"] == b["scale"][0])
  assert np.abs(b["coord"]).max() < 1
  np.testing.assert_allclose(b["cell"], 2 / crop, rtol=1e-6)
  for k in ("inp", "gt"):
    assert 0 <= b[k].min() and b[k].max() <= 1
  hr = b["hr"][:, :crop, :crop]
  rows, cols = _pixel(b["coord"][..., 0], crop), _pixel(b["coord"][..., 1], crop)
  np.testing.assert_allclose(b["coord"], make_coord((crop, crop))[rows * crop + cols])
  np.testing.assert_array_equal(b["gt"], hr[np.arange(3)[:, None], rows, cols])
  for i in range(3):
    assert len(set(zip(rows[i], cols[i]))) == q  # no query drawn twice
  if sample_patch:  # a contiguous 8 x 8 window, row-major
    for i in range(3):
      top, left = rows[i, 0], cols[i, 0]
      np.testing.assert_array_equal(b["gt"][i].reshape(8, 8, 3), hr[i, top:top + 8, left:left + 8])


def _host_prior_input(b, crop):
  """The prior input and mask as the sampler built them on the host before the train step did."""
  n, hb = b["hr"].shape[:2]
  prior_in = np.zeros((n, hb, hb, 6), np.float32)
  prior_in[:, :crop, :crop, :3] = b["hr"][:, :crop, :crop]
  prior_in[:, :crop, :crop, 3:] = resize_bicubic_torch(b["inp"], (crop, crop), xp=np)
  mask = np.zeros((n, hb, hb, 1), np.float32)
  mask[:, :crop, :crop] = 1
  return prior_in, mask


def test_lr_is_the_downsampled_crop_and_prior_input_holds_lr_up():
  src = _photos((60, 70), (50, 40))
  for augment in (False, True):
    b = make_batch(src, np.random.default_rng(5), batch_size=4, augment=augment, **SMALL)
    crop = round(8 * float(b["scale"][0]))
    hr = b["hr"][:, :crop, :crop]
    for i in range(4):
      # PIL's fixed-point resize commutes with the flips only up to one 8-bit step.
      np.testing.assert_allclose(b["inp"][i], resize_pil_bicubic(hr[i], (8, 8)),
                                 atol=0 if not augment else 1.01 / 255)
    prior_in, mask = jax.jit(padded_prior_input)(b["inp"], b["hr"], b["lr_to_hr_matrix"])
    want_in, want_mask = _host_prior_input(b, crop)
    np.testing.assert_allclose(prior_in, want_in, atol=1e-6)
    np.testing.assert_array_equal(mask, want_mask)


@pytest.mark.parametrize("scale", [1.0, 2.5, 3.97, 4.0])
def test_device_prior_input_equals_the_host_one_at_training_size(scale):
  b = make_batch(defaults.train_source(), np.random.default_rng(0), batch_size=2, patch=48,
                 scale_min=scale, scale_max=scale, sample_q=16)
  crop = round(48 * scale)
  prior_in, mask = jax.jit(padded_prior_input)(b["inp"], b["hr"], b["lr_to_hr_matrix"])
  want_in, want_mask = _host_prior_input(b, crop)
  assert prior_in.shape == want_in.shape and prior_in.dtype == np.float32
  np.testing.assert_allclose(prior_in, want_in, atol=1e-6)
  np.testing.assert_array_equal(mask, want_mask)


def test_bucket_padding_and_mask():
  src = _photos((80, 80))
  seen = set()
  for seed in range(12):
    b = make_batch(src, np.random.default_rng(seed), batch_size=1, **SMALL)
    crop = round(8 * float(b["scale"][0]))
    hb = b["hr"].shape[1]
    assert hb % 16 == 0 and hb - 16 < crop <= hb
    seen.add(hb)
    np.testing.assert_array_equal(b["lr_to_hr_matrix"][0, :crop], bicubic_matrix(8, crop))
    assert not np.any(b["lr_to_hr_matrix"][:, crop:])
    mask = np.zeros((1, hb, hb, 1), np.float32)
    mask[:, :crop, :crop] = 1
    assert not np.any(b["hr"] * (1 - mask))
    prior_in, prior_mask = padded_prior_input(b["inp"], b["hr"], b["lr_to_hr_matrix"])
    np.testing.assert_array_equal(prior_mask, mask)
    assert not np.any(np.asarray(prior_in) * (1 - mask))
  assert len(seen) > 1  # the scale, hence the bucket, changes between batches


def test_crops_are_dihedral_transforms_of_image_windows():
  img = np.random.default_rng(6).integers(0, 256, (20, 20, 3), dtype=np.uint8)
  src = ArraySource([img])
  kinds = set()
  for seed in range(16):
    b = make_batch(src, np.random.default_rng(seed), batch_size=1, patch=4, sample_q=16,
                   scale_min=1, scale_max=3, bucket=4)
    crop = round(4 * float(b["scale"][0]))
    hr = np.rint(b["hr"][0, :crop, :crop] * 255).astype(np.uint8)
    found = [(k, y, x) for y in range(21 - crop) for x in range(21 - crop) for k in range(8)
             if np.array_equal(_dihedral(img[y:y + crop, x:x + crop], k), hr)]
    assert found, f"crop of seed {seed} is not a flipped window of the image"
    kinds.add(found[0][0])
  assert len(kinds) >= 4


def _dihedral(x, k):
  if k & 1:
    x = x[::-1]
  if k & 2:
    x = x[:, ::-1]
  if k & 4:
    x = x.transpose(1, 0, 2)
  return x


def test_too_small_images_are_replaced_with_a_counted_warning(caplog):
  rng = np.random.default_rng(7)
  big = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
  src = ArraySource([np.zeros((20, 20, 3), np.uint8), big])
  with caplog.at_level(logging.WARNING):
    b = make_batch(src, np.random.default_rng(0), batch_size=4, indices=[0, 1, 0, 0], patch=8,
                   sample_q=16, scale_min=4, scale_max=4, bucket=8)
  assert "3 image(s)" in caplog.text
  assert np.all(b["hr"].max(axis=(1, 2, 3)) > 0)  # none came from the black image
  with pytest.raises(ValueError, match="64 x 64"):
    make_batch(src, np.random.default_rng(0), batch_size=1, patch=16, sample_q=16, scale_min=4,
               scale_max=4)
  with pytest.raises(ValueError, match="largest is 40 x 40"):
    check_sampler_args(src, patch=8, scale_min=1, scale_max=6, sample_q=16, sample_patch=False)
  with pytest.raises(ValueError, match="sample_q"):
    check_sampler_args(src, patch=8, scale_min=1, scale_max=2, sample_q=65, sample_patch=False)


def test_make_batch_deterministic_and_shards_concatenate():
  src = _photos((60, 70), (50, 40), (45, 80))
  kw = dict(batch_size=4, indices=[2, 0, 1, 2], **SMALL)
  full = make_batch(src, np.random.default_rng(8), **kw)
  again = make_batch(src, np.random.default_rng(8), **kw)
  other = make_batch(src, np.random.default_rng(9), **kw)
  shards = [make_batch(src, np.random.default_rng(8), shard_index=i, shard_count=2, **kw)
            for i in range(2)]
  for k in full:
    np.testing.assert_array_equal(full[k], again[k])
    np.testing.assert_array_equal(full[k], np.concatenate([s[k] for s in shards]))
  assert not np.array_equal(full["gt"], other["gt"])


# ---------------------------------------------------------------------------- pipeline


def _equal(a, b):
  return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_pipeline_resume_reproduces_the_fresh_run():
  src = _photos((60, 70), (50, 40), (45, 80))
  fresh = list(train_batches(src, seed=11, batch_size=2, num_steps=6, **SMALL))
  resumed = list(train_batches(src, seed=11, batch_size=2, start_step=4, num_steps=2,
                               num_threads=1, prefetch=1, **SMALL))
  assert len(fresh) == 6 and len(resumed) == 2
  assert _equal(fresh[4], resumed[0]) and _equal(fresh[5], resumed[1])
  assert not _equal(fresh[0], fresh[1])
  other_seed = next(train_batches(src, seed=12, batch_size=2, num_steps=1, **SMALL))
  assert not _equal(fresh[0], other_seed)
  halves = [next(train_batches(src, seed=11, batch_size=2, start_step=3, shard_index=i,
                               shard_count=2, **SMALL)) for i in range(2)]
  assert _equal(fresh[3], {k: np.concatenate([h[k] for h in halves]) for k in fresh[3]})


def test_each_epoch_visits_every_image_once():
  src = _photos((30, 30), (30, 31), (31, 30), (32, 32), (33, 33), (34, 34), repeat=2)
  fn = BatchAtStep(src, seed=3, batch_size=4)
  order = np.concatenate([fn.image_indices(k) for k in range(6)])  # 24 = two epochs of 12
  assert sorted(order[:12]) == list(range(12)) and sorted(order[12:]) == list(range(12))
  assert not np.array_equal(order[:12], order[12:])


def _ignored_signals(pid):
  mask = next(int(line.split()[1], 16) for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines()
              if line.startswith("SigIgn:"))
  return {signum for signum in (signal.SIGINT, signal.SIGTERM) if mask >> (signum - 1) & 1}


def _grain_workers(count, timeout=120):
  """The pids of this process's `count` worker processes (grain starts them from a thread, so they
  are the children of any of its threads), once each has started and set both signal dispositions
  (it sets them one after the other: one alone is not yet ready)."""
  deadline = time.monotonic() + timeout
  while True:
    tasks = pathlib.Path(f"/proc/{os.getpid()}/task").iterdir()
    pids = [int(pid) for task in tasks for pid in (task / "children").read_text().split()
            if "spawn_main" in pathlib.Path(f"/proc/{pid}/cmdline").read_text()]
    ready = [pid for pid in pids if _ignored_signals(pid) == {signal.SIGINT, signal.SIGTERM}]
    if len(ready) == count or time.monotonic() > deadline:
      return pids
    time.sleep(0.2)


def test_pipeline_multiprocess_matches_threads_and_its_workers_leave_signals_to_the_trainer():
  src = _photos((60, 70), (50, 40))
  # 6 steps: more than the workers' buffers (2 each) hold, so they are still there to be signalled.
  threads = list(train_batches(src, seed=5, batch_size=2, start_step=2, num_steps=6, **SMALL))
  procs = train_batches(src, seed=5, batch_size=2, start_step=2, num_steps=6, num_workers=2, **SMALL)
  got = [next(procs)]
  # Ctrl-C in a terminal (a scheduler's SIGTERM) reaches the workers too: the trainer, not they, stops.
  workers = _grain_workers(2)
  assert len(workers) == 2 and all(_ignored_signals(pid) == {signal.SIGINT, signal.SIGTERM} for pid in workers)
  for pid in workers:
    os.kill(pid, signal.SIGINT)
    os.kill(pid, signal.SIGTERM)
  got += list(procs)
  procs.close()
  assert len(got) == 6 and all(_equal(a, b) for a, b in zip(threads, got))


def test_pipeline_workers_leave_no_shared_memory_behind(monkeypatch):
  """grain's workers hand batches over in shared-memory blocks; each is unlinked as its batch is copied,
  not when the garbage collector gets to the last batches, which a stopped pipeline's frames hold
  (at exit that is too late: Python's resource tracker warns of "leaked shared_memory objects")."""
  if not os.path.isdir("/dev/shm"):
    pytest.skip("no /dev/shm to look in")
  names = []
  own_arrays = pipeline._own_arrays

  def recording(batch):
    names.extend(v.shm.name.lstrip("/") for v in batch.values() if getattr(v, "shm", None) is not None)
    return own_arrays(batch)

  monkeypatch.setattr(pipeline, "_own_arrays", recording)
  gc.disable()  # nothing collected behind the test's back
  try:
    batches = train_batches(_photos((60, 70), (50, 40)), seed=5, batch_size=2, num_steps=4, num_workers=2,
                            **SMALL)
    got = list(batches)
    batches.close()
    left = [name for name in names if os.path.exists(f"/dev/shm/{name}")]
  finally:
    gc.enable()
  assert len(got) == 4 and len(names) >= 4 and not left, left


def test_prefetch_to_device():
  batches = [{"x": np.full((2, 3), i, np.float32)} for i in range(5)]
  out = list(prefetch_to_device(iter(batches), size=3))
  assert len(out) == 5
  for i, b in enumerate(out):
    assert isinstance(b["x"], jax.Array)
    np.testing.assert_array_equal(np.asarray(b["x"]), batches[i]["x"])
  assert len(list(prefetch_to_device(iter(batches[:1]), size=4))) == 1


def test_default_sources_are_offline_photos_big_enough():
  train, val = defaults.train_source(), defaults.val_source()
  assert len(train) >= 4 and len(val) >= 1
  for src in (train, val):
    for i in range(len(src)):
      assert src[i].dtype == np.uint8 and src[i].shape[-1] == 3 and min(src.hw(i)) >= 192
  train_sums = {int(train[i].sum()) for i in range(len(train))}
  assert not any(int(val[i].sum()) in train_sums for i in range(len(val)))
  check_sampler_args(train, patch=48, scale_min=1, scale_max=4, sample_q=2304, sample_patch=False)


def test_exif_orientation_is_applied(tmp_path):
  from PIL import Image

  from liifusion_jax.data.images import read_image

  pixels = np.zeros((2, 3, 3), np.uint8)
  pixels[0, 0] = 255  # top-left red marker on a 2 x 3 (H x W) image
  exif = Image.Exif()
  exif[0x0112] = 6  # "rotate 90 CW to display"
  Image.fromarray(pixels).save(tmp_path / "phone.jpg", exif=exif, quality=100)
  shown = read_image(tmp_path / "phone.jpg")
  assert shown.shape == (3, 2, 3)
  assert shown[0, -1, 0] > 200 and shown[0, 0, 0] < 60  # the marker moved to the top-right
