"""The reference PyTorch LIIFusion (novwaul/LIIFusion), imported from a checkout to run on this machine.

`import_reference(path)` puts the checkout first on sys.path and imports its `models`, `utils`,
`datasets` and `train` modules, with what they need and a CPU machine without internet lacks:
- `.cuda()` is a no-op where CUDA is absent;
- torchvision, where it is absent or will not load beside a CPU torch: stand-ins with its semantics
  for the three transforms of the data wrapper (`ToPILImage` quantises `float * 255` by truncation,
  `Resize(size, BICUBIC)` is PIL's bicubic, `ToTensor` divides by 255);
- the perceptual loss's `vgg19(pretrained=True)`, always: torchvision's `features` layers and indices
  with seeded random weights (`vgg19_state_dict`; no ImageNet weights can be downloaded);
- `lpips`: an empty module (train.py imports it for its validation, which nothing here runs); its
  `tqdm` bars are silenced;
- the released stage-1 `gen_feat` feeds LR-up twice to the prior encoder (its Concat(HR, LR-up) line
  is commented out); it is given the paper's Concat(HR, LR-up), as stage 2's code has it and as the
  golden files were made.
Nothing of the reference is copied here: it is read from `path`.
"""
import importlib
import sys
import types

import numpy as np
import torch
from PIL import Image

VGG19_LAYOUT = [(2, 64), (2, 128), (4, 256), (4, 512), (4, 512)]  # (convs, width) per block


def vgg19_state_dict(seed):
  """VGG19 `features[:36]` in torchvision's names from `seed`, as ../shared/README.md describes the
  golden files' VGG: numpy default_rng(seed); per conv weight ~ N(0, 2 / (in * 9)), then bias
  0.01 * N(0, 1), float32."""
  rng, sd, index, cin = np.random.default_rng(seed), {}, 0, 3
  for block, (convs, width) in enumerate(VGG19_LAYOUT):
    index += 1 if block else 0  # the max pool between blocks
    for _ in range(convs):
      sd[f"features.{index}.weight"] = (rng.standard_normal((width, cin, 3, 3))
                                        * np.sqrt(2 / (cin * 9))).astype(np.float32)
      sd[f"features.{index}.bias"] = (0.01 * rng.standard_normal(width)).astype(np.float32)
      cin, index = width, index + 2  # conv, ReLU
  return sd



def write_vgg19_pth(seed, path):
  """`vgg19_state_dict(seed)` saved as a torchvision `.pth` at `path` (what `perceptual.kind=vgg19_pth`
  reads); returns `path`."""
  torch.save({k: torch.from_numpy(v) for k, v in vgg19_state_dict(seed).items()}, path)
  return path

class _Vgg19:
  """torchvision.models.vgg19's `features` (all 37 layers), its convs from `vgg19_state_dict`."""
  seed = 1000

  def __init__(self, **unused):
    layers, cin = [], 3
    for block, (convs, width) in enumerate(VGG19_LAYOUT):
      for _ in range(convs):
        layers += [torch.nn.Conv2d(cin, width, 3, padding=1), torch.nn.ReLU(inplace=True)]
        cin = width
      layers.append(torch.nn.MaxPool2d(2, 2))
    self.features = torch.nn.Sequential(*layers)
    self.features.load_state_dict(
        {k[len("features."):]: torch.from_numpy(v) for k, v in vgg19_state_dict(self.seed).items()})


def _transforms():
  class ToPILImage:
    def __call__(self, x):
      return Image.fromarray(x.mul(255).byte().permute(1, 2, 0).numpy())

  class Resize:
    def __init__(self, size, interpolation=Image.BICUBIC):
      self.size, self.interpolation = size, interpolation

    def __call__(self, image):
      h, w = (self.size, self.size) if isinstance(self.size, int) else self.size
      return image.resize((w, h), self.interpolation)

  class ToTensor:
    def __call__(self, image):
      return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float().div(255)

  return types.SimpleNamespace(ToPILImage=ToPILImage, Resize=Resize, ToTensor=ToTensor)


def _stand_in_torchvision():
  try:
    importlib.import_module("torchvision.models")
    return
  except (ImportError, RuntimeError):
    pass
  torchvision = types.ModuleType("torchvision")
  torchvision.models = types.ModuleType("torchvision.models")
  torchvision.models.vgg19 = _Vgg19
  torchvision.transforms = _transforms()
  sys.modules.update({"torchvision": torchvision, "torchvision.models": torchvision.models,
                      "torchvision.transforms": torchvision.transforms})


def _paper_prior_input(self, inp, ref):
  """The reference's stage-1 `gen_feat` with its commented-out line: prior from Concat(HR, LR-up)."""
  feat = self.encoder(inp)
  up = torch.nn.functional.interpolate(inp, size=ref.shape[-2:], mode="bicubic")
  self.feat = self.prior_injector(feat, self.prior_encoder(torch.cat((ref, up), dim=1)))
  return self.feat


def import_reference(path, vgg_seed=1000):
  """The reference's modules as a namespace (models, utils, datasets, wrappers, train), imported from
  the checkout at `path`; its perceptual loss's stand-in VGG19 seeded with `vgg_seed`."""
  sys.path.insert(0, str(path))
  if not torch.cuda.is_available():
    torch.Tensor.cuda = lambda self, *unused, **unused_kw: self
    torch.nn.Module.cuda = lambda self, *unused, **unused_kw: self
  _stand_in_torchvision()
  _Vgg19.seed = vgg_seed
  sys.modules.setdefault("lpips", types.ModuleType("lpips"))
  models = importlib.import_module("models")
  importlib.import_module("models.liifusion_stage1").LIIF.gen_feat = _paper_prior_input
  utils = importlib.import_module("utils")
  utils.model = types.SimpleNamespace(vgg19=_Vgg19)  # its PerceptualLoss: the seeded VGG19, always
  train = importlib.import_module("train")
  train.tqdm = lambda iterable, **unused: iterable  # a bar per one-batch "epoch" says nothing here
  return types.SimpleNamespace(models=models, utils=utils, datasets=importlib.import_module("datasets"),
                               wrappers=importlib.import_module("datasets.wrappers"), train=train)
