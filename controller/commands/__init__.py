"""One module per `offerctl` verb, each with `run(args) -> int`; their options are in options.py."""
