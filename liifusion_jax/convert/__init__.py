"""Reference PyTorch state_dicts -> Flax params, and `.pth` checkpoints -> orbax checkpoints."""
import jax
import jax.numpy as jnp

from liifusion_jax.convert.discriminator import discriminator_params_from_state_dict
from liifusion_jax.convert.stage1 import stage1_params_from_state_dict
from liifusion_jax.convert.stage2 import stage2_params_from_state_dict
from liifusion_jax.models.factory import build_model


def stage_of(state_dict):
  """'stage2' if the state_dict holds the diffusion prior's modules, else 'stage1'."""
  return "stage2" if any(k.startswith("condition_encoder.") for k in state_dict) else "stage1"


def params_from_state_dict(state_dict, stage=None):
  """(stage, params) of a reference LIIFusion model's state_dict (names as the reference's)."""
  stage = stage or stage_of(state_dict)
  convert = {"stage1": stage1_params_from_state_dict, "stage2": stage2_params_from_state_dict}[stage]
  return stage, convert(state_dict)


def model_param_shapes(stage):
  """The params of `stage`'s model under the default config, as ShapeDtypeStructs (no compute).

  Stage 2's tree is taken through `train_forward`, so it also holds the HR prior encoder.
  """
  model = build_model(stage, {})
  lr, coord, cell = jnp.zeros((1, 8, 8, 3)), jnp.zeros((1, 4, 2)), jnp.full((1, 4, 2), 0.125)
  key = jax.random.PRNGKey(0)
  if stage == "stage1":
    return jax.eval_shape(model.init, key, lr, jnp.zeros((1, 16, 16, 3)), coord, cell)["params"]
  return jax.eval_shape(lambda k: model.init(k, lr, jnp.zeros((1, 16, 16, 6)), coord, cell,
                                             jnp.zeros((1, model.prior_dim)), method="train_forward"), key)["params"]


def check_shapes(stage, params):
  """Raises ValueError naming the arrays that are missing, extra, or of another shape than the model's."""
  flat = lambda tree: {jax.tree_util.keystr(path): tuple(leaf.shape)
                       for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}
  expected, got = flat(model_param_shapes(stage)), flat(params)
  problems = [f"{k} missing" for k in sorted(expected.keys() - got.keys())]
  problems += [f"{k} not in the model" for k in sorted(got.keys() - expected.keys())]
  problems += [f"{k} is {got[k]}, the model's is {expected[k]}" for k in sorted(expected.keys() & got.keys())
               if got[k] != expected[k]]
  if problems:
    raise ValueError(f"the converted {stage} weights do not fit the model: {'; '.join(problems[:3])}"
                     + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""))
