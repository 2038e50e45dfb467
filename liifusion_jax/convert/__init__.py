"""Reference PyTorch state_dicts -> Flax params, and `.pth` checkpoints -> orbax checkpoints."""
from liifusion_jax.convert.discriminator import discriminator_params_from_state_dict
from liifusion_jax.convert.stage1 import stage1_params_from_state_dict
from liifusion_jax.convert.stage2 import stage2_params_from_state_dict


def stage_of(state_dict):
  """'stage2' if the state_dict holds the diffusion prior's modules, else 'stage1'."""
  return "stage2" if any(k.startswith("condition_encoder.") for k in state_dict) else "stage1"


def params_from_state_dict(state_dict, stage=None):
  """(stage, params) of a reference LIIFusion model's state_dict (names as the reference's)."""
  stage = stage or stage_of(state_dict)
  convert = {"stage1": stage1_params_from_state_dict, "stage2": stage2_params_from_state_dict}[stage]
  return stage, convert(state_dict)
