"""The trained models that ship with the package (`pretrained:stage1`, `pretrained:stage2`), as
inference files (format: `liifusion_jax.checkpoints.inference_file`). `configs/pretrained.py` is their recipe and
`python -m liifusion_jax.pretrained.export` makes one from a run."""
