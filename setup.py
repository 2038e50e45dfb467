"""Ships configs/ in the wheel as the package `liifusion_jax.configs` (pyproject.toml holds the rest)."""
from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["liifusion_jax*"]), "liifusion_jax.configs",
                # data folders without __init__.py: named so that their files ship (package-data)
                "liifusion_jax.demo.static", "liifusion_jax.demo.static.images"],
      package_dir={"liifusion_jax.configs": "configs"})
