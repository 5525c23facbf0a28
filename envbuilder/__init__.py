"""envbuilder: disposable, prod-like Kubernetes environments for experiments and CI."""

__version__ = "0.1.0"
