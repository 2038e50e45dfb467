"""Loading ml_collections Python configs and applying `--config.a.b=value` overrides."""
import ast
import hashlib
import importlib.machinery
import importlib.util
import pathlib
import sys

import ml_collections


class ConfigError(ValueError):
  """A config file or override that cannot be used."""


# The configs/ folder: shipped in the wheel as liifusion_jax/configs (setup.py), beside the package in
# a checkout.
_PACKAGE = pathlib.Path(__file__).resolve().parent
BUNDLED_CONFIGS = _PACKAGE / "configs" if (_PACKAGE / "configs").is_dir() else _PACKAGE.parent / "configs"


def bundled_config_names():
  """The names (file stems) of the bundled configs: stage1, stage2, ..."""
  return sorted(p.stem for p in BUNDLED_CONFIGS.glob("*.py") if not p.name.startswith("_"))


def config_file(path):
  """A config file: `path` itself, or for a bare name such as `stage1` the bundled configs/stage1.py."""
  file = pathlib.Path(path)
  if file.is_file():
    return file
  if path and file.name == path and not file.suffix and (BUNDLED_CONFIGS / f"{path}.py").is_file():
    return BUNDLED_CONFIGS / f"{path}.py"
  raise ConfigError(f"config file not found: {path} (or a bundled config: "
                    f"{', '.join(bundled_config_names())})")


def _config_module(file):
  """Runs a config file as a module of a package made of its folder (a fresh one each time), so that a
  config extends another of its folder with a plain relative import: `from . import stage1`."""
  folder = file.resolve().parent
  package = f"_liifusion_configs_{hashlib.sha1(str(folder).encode()).hexdigest()[:12]}"
  for name in [n for n in sys.modules if n == package or n.startswith(f"{package}.")]:
    del sys.modules[name]  # a config file edited since the last load is read again
  package_spec = importlib.machinery.ModuleSpec(package, None, is_package=True)
  package_spec.submodule_search_locations = [str(folder)]
  sys.modules[package] = importlib.util.module_from_spec(package_spec)
  module_spec = importlib.util.spec_from_file_location(f"{package}.{file.stem}", file)
  module = importlib.util.module_from_spec(module_spec)
  sys.modules[module_spec.name] = module
  module_spec.loader.exec_module(module)
  return module


def default_workdir(spec):
  """The run folder of a config spec: runs/<config file stem>[_<variant>] (configs/stage1.py:quick and
  stage1:quick -> runs/stage1_quick), where train.py runs it without --workdir."""
  path, _, variant = str(spec).partition(":")
  return str(pathlib.Path("runs") / "_".join(filter(None, (pathlib.Path(path).stem, variant))))


# `init_from = WORKDIR_OF + "stage1:quick"` in a config: the default workdir of that config's run.
WORKDIR_OF = "workdir:"


def load_config(spec, lock=True):
  """Runs `get_config(arg)` of a config given as `PATH`, `PATH:ARG`, `NAME` or `NAME:ARG`, where
  NAME is a bundled config (`stage1:quick`, see `config_file`). An `init_from` of `workdir:SPEC`
  becomes `default_workdir(SPEC)`: stage 2 starts from the stage-1 run that train.py left there."""
  path, _, arg = str(spec).partition(":")
  module = _config_module(config_file(path))
  if not hasattr(module, "get_config"):
    raise ConfigError(f"{path} defines no get_config()")
  try:
    config = module.get_config(arg or None)
  except ValueError as error:  # an unknown variant (PATH:NAME)
    raise ConfigError(f"{path}: {error}") from None
  if str(config.get("init_from", "")).startswith(WORKDIR_OF):
    config.init_from = default_workdir(config.init_from[len(WORKDIR_OF):])
  if lock:
    config.lock()
  return config


def leaf_keys(config, prefix=""):
  """All dotted leaf keys of a ConfigDict, sorted."""
  keys = []
  for key, value in config.items():
    name = f"{prefix}{key}"
    if isinstance(value, ml_collections.ConfigDict):
      keys.extend(leaf_keys(value, name + "."))
    else:
      keys.append(name)
  return sorted(keys)


# The spellings of a boolean people type, in any case.
BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _parse_value(text, current):
  if isinstance(current, bool):
    if text.strip().lower() not in BOOLEANS:
      raise ConfigError(f"config key expects a boolean (true/false, yes/no or 1/0, any case), got {text!r}")
    return BOOLEANS[text.strip().lower()]
  try:
    value = ast.literal_eval(text)
  except (ValueError, SyntaxError):
    value = text
  if current is None:
    return value
  if isinstance(value, bool):  # a bool is an int to Python: batch_size=True would pass
    raise ConfigError(f"config key expects {type(current).__name__}, got {text!r}")
  if isinstance(current, float) and isinstance(value, int):
    return float(value)
  if isinstance(current, tuple) and isinstance(value, (list, tuple)):
    return tuple(value)
  if isinstance(current, tuple) and isinstance(value, (int, float)):
    return (value,)
  if not isinstance(value, type(current)):
    raise ConfigError(f"config key expects {type(current).__name__}, got {text!r}")
  return value


def apply_overrides(config, overrides):
  """Sets `a.b=value` pairs on a locked config; an unknown key fails listing the valid ones."""
  valid = leaf_keys(config)
  with config.unlocked():
    for item in overrides:
      key, sep, text = item.partition("=")
      if not sep:
        raise ConfigError(f"override {item!r} is not of the form key=value")
      if key not in valid:
        raise ConfigError(f"unknown config key {key!r}; valid keys: {', '.join(valid)}")
      *parents, leaf = key.split(".")
      node = config
      for parent in parents:
        node = node[parent]
      try:
        node[leaf] = _parse_value(text, node[leaf])
      except (ConfigError, TypeError) as error:  # TypeError: ml_collections refuses the value's type
        raise ConfigError(f"{key}: {error}") from None
  return config


def flat_items(tree, prefix=""):
  """{dotted key: value} of a nested dict (a config as JSON)."""
  items = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      items.update(flat_items(value, f"{prefix}{key}."))
    else:
      items[f"{prefix}{key}"] = value
  return items


def differences(old, new):
  """{dotted key: (old value, new value)} of the keys where two configs (nested dicts) differ."""
  old, new = flat_items(old), flat_items(new)
  return {k: (old.get(k), new.get(k)) for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)}
