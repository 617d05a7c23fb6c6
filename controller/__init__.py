"""offerctl: a GitOps controller for commercial-marketplace offers."""

__version__ = "0.1.0"
