"""Hawkins' training container: the code SageMaker runs for `train` and `serve`."""
