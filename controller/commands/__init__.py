"""One module per `offerctl` verb; each exposes `register(subparsers)`."""
