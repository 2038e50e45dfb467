"""Stage 2 of LIIFusion (paper Eq. 6-9, section IV.2; reference train_stage2.yaml), from a stage-1 run.

`configs/stage2.py` is the recipe (700 epochs for natural images, as the paper; batch 16, patch 48,
scale 1-4, Adam 3e-5 for generator and discriminator) from `init_from`: a stage-1 workdir (default
`runs/stage1`, train.py's default for configs/stage1.py) or `pretrained:stage1`, the bundled model.
`configs/stage2.py:quick` continues the quick stage-1 run (`runs/stage1_quick`) on the built-in photographs.
"""
from . import stage1


def get_config(arg=None):
  c = stage1.get_config(arg)
  c.stage = "stage2"
  # The stage-1 run of the same variant, where train.py leaves it (runs/stage1, runs/stage1_quick).
  c.init_from = f"workdir:stage1:{arg}" if arg else "workdir:stage1"
  c.data.sample_patch = True     # whole LR-sized HR windows, so SR and HR are images for D and VGG
  c.model.steps = 4
  c.model.start_from_q_sample = False  # DiffIR's training start from q(z_T | z_0); reference: noise
  c.model.residual_denoiser = False    # the reference's "ResMLP" blocks have no residual

  c.loss_weights = dict(perceptual=0.1, gan=0.05, diffusion=0.05)
  c.perceptual = dict(kind="vgg16_lpips", path="")  # or kind="vgg19_pth" with a torchvision .pth
  c.optim.lr = 3e-5
  c.optim.d_lr = 3e-5
  c.optim.milestones = ()
  c.val.lpips = True             # perceptual quality is what stage 2 trades PSNR for
  if arg == "quick":
    c.epochs = 6
    c.optim.lr = 1e-4
    c.optim.d_lr = 1e-4
    c.val.every_epochs = 3
    c.save_every_epochs = 3
  else:
    c.epochs = 700
  return c
