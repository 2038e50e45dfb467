"""Stage 1 of LIIFusion (paper section IV.2; reference configs/train-two-stage/train_stage1.yaml).

`configs/stage1.py` is the paper's recipe on a folder of HR images (set `data.train_dir`).
`configs/stage1.py:quick` is a CPU-sized run on scikit-image's bundled photographs (minutes on 2 cores),
fine-tuning the bundled model (`pretrained:stage1`).
"""
import ml_collections


def get_config(arg=None):
  c = ml_collections.ConfigDict()
  c.stage = "stage1"
  c.seed = 0
  c.init_from = ""               # a stage-1 run, checkpoint or pretrained:stage1 to fine-tune from
  # Compute dtype: "float32" (the reference's numbers) or "bf16" (bfloat16 compute, float32 params,
  # optimiser state and losses: faster on GPUs and TPUs).
  c.precision = "float32"

  c.data = ml_collections.ConfigDict()
  # A folder of HR images, or several separated by commas (DF2K: "DIV2K_train_HR,Flickr2K_HR");
  # empty: scikit-image's bundled colour photographs.
  c.data.train_dir = ""
  c.data.builtin_photos = False  # True: those photographs as well as train_dir's images
  c.data.repeat = 20             # DIV2K's 800 images x 20 = one epoch, as the reference
  c.data.first_k = 0             # 0: every image
  c.data.cache = True            # decode train_dir once into a file that every data worker maps
  c.data.cache_dir = ""          # where those files go; empty: ~/.cache/liifusion_jax/decoded
  c.data.patch = 48              # LR patch side
  c.data.scale_min = 1.0
  c.data.scale_max = 4.0
  c.data.sample_q = 2304
  c.data.sample_patch = False
  c.data.augment = True
  # HR crops are padded to multiples of this for the prior encoder: one compile per bucket (19 for
  # 48 x [1, 4]), each padded pixel paid in every step: 8 costs 6% extra pixels on average, 32 costs 24%.
  c.data.bucket = 8
  c.data.num_workers = 2

  c.model = ml_collections.ConfigDict()
  # Sizes, the reference's: EDSR-baseline's width (also the prior encoder's and the injector's) and
  # depth, the prior vector's length, the decoder MLP's width.
  c.model.n_feats = 64
  c.model.n_resblocks = 16
  c.model.prior_dim = 256
  c.model.decoder_hidden = 256
  c.model.prior_to = "q"         # Table 7: "q" (LIIFusion) or "qkv"
  c.model.scale_aware_prior = False  # Table 8 variant; off in the final model

  c.loss = "l1"                  # reference; "mse" is the paper's text
  c.batch_size = 16
  c.epochs = 1000
  c.steps_per_epoch = 0          # 0: images * repeat / batch_size
  c.optim = ml_collections.ConfigDict()
  c.optim.lr = 1e-4
  c.optim.milestones = (200, 400, 600, 800)  # epochs
  c.optim.gamma = 0.5

  # Validation while training (evaluation/validation.py): the model and bicubic on held-out images.
  c.val = ml_collections.ConfigDict()
  c.val.dir = ""                 # a folder of HR images; empty: two held-out scikit-image photographs
  c.val.first_k = 10             # the first 10 of them (0: all), as the reference's DIV2K validation
  c.val.crop = 240               # HR centre crop (0: whole images); fixed shapes, few compiles
  c.val.scales = (2.0, 3.0, 4.0)
  # "div2k": LR made as training makes it (the reference's sr-implicit-downsampled wrapper, PIL
  # bicubic at every scale) and RGB PSNR shaving ceil(s) + 6: the reference's protocol for DIV2K's
  # validation set, the set its training validates on; it needs no LR files. eval.py defaults to
  # "benchmark" (MATLAB-resized LR, Y-channel PSNR) because the paper's tables score Set5, Set14,
  # B100 and Urban100 that way; `eval.py --protocol div2k` scores as this validation does.
  c.val.protocol = "div2k"
  c.val.lpips = False            # LPIPS (AlexNet) next to PSNR; stage 2 turns it on
  c.val.every_epochs = 1

  c.log = ml_collections.ConfigDict()
  c.log.tensorboard = True       # event files in <workdir>/tb/ beside metrics.jsonl

  c.eval_chunk = 30000           # queries per decoder call (reference eval_bsize)
  c.save_every_epochs = 1
  c.keep_checkpoints = 3
  c.restart = False              # True: start over where the workdir's checkpoints are all unreadable
  c.log_every_steps = 50
  c.shard_params = False         # True: params and optimiser state split over the devices (large models)

  if arg == "quick":
    c.init_from = "pretrained:stage1"  # fine-tuning the bundled model: a sample that beats bicubic
    c.data.repeat = 1
    c.data.patch = 24
    c.data.sample_q = 576
    c.data.num_workers = 0
    c.data.bucket = 32           # 3 compiles instead of 10: compilation dominates a run this short
    c.batch_size = 4
    c.epochs = 20
    c.steps_per_epoch = 10
    c.optim.lr = 2e-5
    c.optim.milestones = (15,)
    c.val.every_epochs = 10
    c.save_every_epochs = 10
    c.log_every_steps = 10
  elif arg is not None:
    raise ValueError(f"unknown config variant {arg!r} (known: quick)")
  return c
