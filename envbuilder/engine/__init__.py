"""The Pulumi layer: one stack per environment, an inline program, the local file backend by default.
The rest of envbuilder uses it through `envbuilder.engine.api` alone."""

import os

# Before gRPC (which the Automation API brings) starts: with its fork support on, grpcio from 1.80 restarts its
# poller in every forked child, which can then die before it runs its command (grpc/grpc#43055). `envbuilder
# dev` forks kubectl after an `up` in its own process: a sync failed that way, with the child's only output
# "Epoll1Poller ... epoll_wait error: Bad file descriptor". envbuilder never forks to run Python.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
