"""Reference (PyTorch) stage-1 state_dict -> LIIFusionStage1 params.

Each `*_params(sd, prefix)` converts the entries under `prefix.` and raises KeyError naming every
missing or unexpected entry there; `stage1_params_from_state_dict` also rejects unknown top-level
prefixes. Arrays come back as float32 numpy in Flax layouts.
"""
import numpy as np

from liifusion_jax.convert import torch_layout as tl


def check_keys(sd, prefix, expected, ignored=()):
  """Raises if the keys of `sd` under `prefix.` differ from `expected` (+ optional `ignored`)."""
  present = {k for k in sd if k.startswith(prefix + ".")}
  expected = {f"{prefix}.{k}" for k in expected}
  missing = sorted(expected - present)
  unexpected = sorted(present - expected - {f"{prefix}.{k}" for k in ignored})
  if missing or unexpected:
    raise KeyError(f"state_dict under '{prefix}': missing {missing}, unexpected {unexpected}")


def _wb(*names):
  return [f"{n}.{p}" for n in names for p in ("weight", "bias")]


def edsr_params(sd, prefix="encoder", n_resblocks=16):
  """EDSRBaseline params; the unused `sub_mean` / `add_mean` weights are dropped."""
  body = [f"body.{i}.body.{j}" for i in range(n_resblocks) for j in (0, 2)]
  check_keys(sd, prefix, _wb("head.0", *body, f"body.{n_resblocks}"),
              ignored=_wb("sub_mean", "add_mean"))
  params = {"head": tl.conv(sd, f"{prefix}.head.0"),
            "body_conv": tl.conv(sd, f"{prefix}.body.{n_resblocks}")}
  for i in range(n_resblocks):
    for j, t in enumerate((0, 2)):
      params[f"block_{i}_conv_{j}"] = tl.conv(sd, f"{prefix}.body.{i}.body.{t}")
  return params


# Positions of the convs and Linears inside the reference's nn.Sequential `gen_encoder`.
_ENCODER_CONVS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12)
_ENCODER_FCS = ("16.0", "17.0")


def prior_encoder_params(sd, prefix="prior_encoder"):
  """PriorEncoder params (stage 2 uses it for `condition_encoder` as well)."""
  check_keys(sd, prefix, _wb(*map(str, _ENCODER_CONVS), *_ENCODER_FCS))
  params = {f"conv_{i}": tl.conv(sd, f"{prefix}.{t}") for i, t in enumerate(_ENCODER_CONVS)}
  params.update({f"fc_{i}": tl.dense(sd, f"{prefix}.{t}") for i, t in enumerate(_ENCODER_FCS)})
  return params


_BLOCK_KEYS = ("ln1.weight", "ln1.bias", "inner1.self_attention.biasMatrix",
               "inner1.self_attention.kv.weight", "inner1.self_attention.q.weight",
               *_wb("inner1.self_attention.proj", "inner2.0", "inner2.1.inner.0",
                    "inner2.1.inner.2"),
               "kernel.0.weight")


def prior_injector_params(sd, prefix="prior_injector", depth=6):
  """PriorInjector params."""
  check_keys(sd, prefix, [f"inner.{i}.{k}" for i in range(depth) for k in _BLOCK_KEYS]
              + _wb("conv"))
  params = {"conv": tl.conv(sd, f"{prefix}.conv")}
  for i in range(depth):
    p = f"{prefix}.inner.{i}"
    att = f"{p}.inner1.self_attention"
    params[f"block_{i}"] = {
        "kernel": tl.dense(sd, f"{p}.kernel.0", bias=False),
        "ln1": tl.layer_norm(sd, f"{p}.ln1"),
        "attn": {"kv": tl.dense(sd, f"{att}.kv", bias=False),
                 "q": tl.dense(sd, f"{att}.q", bias=False),
                 "proj": tl.dense(sd, f"{att}.proj"),
                 "rel_bias": np.asarray(sd[f"{att}.biasMatrix"], np.float32)},
        "ln2": tl.layer_norm(sd, f"{p}.inner2.0"),
        "mlp_fc1": tl.dense(sd, f"{p}.inner2.1.inner.0"),
        "mlp_fc2": tl.dense(sd, f"{p}.inner2.1.inner.2"),
    }
  return params


def liif_params(sd, prefix="imnet", feat_dim=64, n_layers=5):
  """ConditionalLIIF params from the reference imnet MLP (Linear at layers.0, .2, ...).

  The first Linear's columns are [unfold (c*9 + ky*3 + kx), rel_coord (2), rel_cell (2)]: the unfold
  block reshapes to an OIHW 3x3 conv (`feat_proj`, with the bias), the last 4 to `geo_proj`.
  """
  check_keys(sd, prefix, _wb(*[f"layers.{2 * i}" for i in range(n_layers)]))
  w0 = np.asarray(sd[f"{prefix}.layers.0.weight"], np.float32)
  n_unfold = 9 * feat_dim
  if w0.shape[1] != n_unfold + 4:
    raise ValueError(f"{prefix}.layers.0.weight has {w0.shape[1]} inputs, expected {n_unfold + 4}")
  params = {
      "feat_proj": {"kernel": tl.conv_kernel(w0[:, :n_unfold].reshape(-1, feat_dim, 3, 3)),
                    "bias": np.asarray(sd[f"{prefix}.layers.0.bias"], np.float32)},
      "geo_proj": {"kernel": tl.dense_kernel(w0[:, n_unfold:])},
      "out": tl.dense(sd, f"{prefix}.layers.{2 * (n_layers - 1)}"),
  }
  for i in range(1, n_layers - 1):
    params[f"hidden_{i - 1}"] = tl.dense(sd, f"{prefix}.layers.{2 * i}")
  return params


_STAGE1_PARTS = {"encoder": edsr_params, "prior_encoder": prior_encoder_params,
                 "prior_injector": prior_injector_params}


def stage1_params_from_state_dict(sd):
  """The reference stage-1 state_dict (name -> array) as LIIFusionStage1 params (without the
  outer {'params': ...}). Only the reference model (prior_to='q', no scale embedding) exists there."""
  prefixes = {*_STAGE1_PARTS, "imnet"}
  unknown = sorted(k for k in sd if k.split(".", 1)[0] not in prefixes)
  if unknown:
    raise KeyError(f"state_dict entries outside {sorted(prefixes)}: {unknown}")
  params = {name: fn(sd, name) for name, fn in _STAGE1_PARTS.items()}
  params["decoder"] = liif_params(sd, "imnet")
  return params
