"""`offerctl demo`: the main job, end to end, on a scratch copy of the shipped example offers.

Modules: `story` (the run, step by step: `run_demo`), `scratch` (the scratch
repositories and their pinned environment), `daemon` (`offerctl run` as a
real process), `phases` (what changed, whether it is done: pure), `common`
(the cast, settings and output). `controller.commands.demo` is the verb: it
unpacks the command line and calls `story.run_demo`.
"""
