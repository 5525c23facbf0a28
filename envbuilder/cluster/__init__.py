"""The tools envbuilder drives as subprocesses: kind, docker, kubectl; and checks that they are there."""
