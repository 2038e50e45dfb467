"""Ships configs/ in the wheel as the package `liifusion_jax.configs` (pyproject.toml holds the rest)."""
from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["liifusion_jax*"]), "liifusion_jax.configs"],
      package_dir={"liifusion_jax.configs": "configs"})
