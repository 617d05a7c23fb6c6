"""`offerctl shards`: show the recorded shard count, or change it (`--set N`).

The daemons started with `--shard K/N` act only while the shard map says N
(controller/daemon/shardmap.py). `--set M` asks for M shards: the running
shards of N stop at the end of their pass, and the shards of M take over once
all have. `--force` records M at once, for when the old shards are known to be
gone (a pod that was killed and never said it stopped). Exit 0 on success, 1
when the map cannot be read or written, 2 on usage errors.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from controller.commands.wiring import watch_from_args
from controller.core.errors import EXIT_OK, TransientError, UsageError
from controller.daemon import shardmap
from controller.daemon.shard import MAX_SHARDS
from controller.daemon.shardref import CAS_TRIES, MapMoved, ShardMapRef
from controller.git.repo import GitRepo


def run(args: argparse.Namespace) -> int:
    watch = watch_from_args(args)
    if args.set is not None and not 1 <= args.set <= MAX_SHARDS:
        raise UsageError(f"--set must be between 1 and {MAX_SHARDS}")
    if args.force and args.set is None:
        raise UsageError("--force goes with --set N")
    with GitRepo(Path(args.repo)) as repo:
        branch = watch.branch or repo.head_branch()
    if not branch:
        raise UsageError("no branch checked out: give --branch")
    ref = ShardMapRef(Path(args.repo), branch, watch.remote)
    if args.set is None:
        current, _ = ref.read()
        print(f"{ref.where}: {current if current is not None else 'no shard count recorded'}")
        return EXIT_OK
    for _ in range(CAS_TRIES):
        current, oid = ref.read()
        wanted = shardmap.propose(current, args.set, force=args.force)
        if wanted == current:
            break
        try:
            ref.write(wanted, oid)
        except MapMoved:
            continue
        break
    else:
        raise TransientError(f"the shard map {ref.where} kept moving; try again")
    print(f"{ref.where}: {wanted}")
    return EXIT_OK
