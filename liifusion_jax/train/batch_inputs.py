"""Model inputs both stages compute on the device from a training batch (`data.sampler.make_batch`)."""
from liifusion_jax.data.images import normalise
from liifusion_jax.models.stage1 import padded_prior_input


def prior_of_batch(batch):
  """The normalised prior input of Eq. (1) and its mask, from a training batch's LR patch, HR crop and
  LR-up matrix: stage 1's prior encoder reads it, stage 2's frozen one gives the diffusion's target z0."""
  prior_in, prior_mask = padded_prior_input(batch["inp"], batch["hr"], batch["lr_to_hr_matrix"])
  return normalise(prior_in), prior_mask
