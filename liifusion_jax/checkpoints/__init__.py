"""Saved models: a run's orbax checkpoints (`run`) and the `.npz` inference files of trained models,
bundled ones included (`inference_file`); `errors` holds what both refuse with."""
