"""What each command's exit codes mean, said in its --help (and in README's table): 0 it did what
it says, 1 the environment, a check or a tool failed, 2 bad input, with nothing created or changed."""

BAD_INPUT = "bad input (an unknown option, name, value, profile or variable, an unreadable record); nothing is created or changed"

MEANINGS: dict[str, tuple[str, str]] = {
    "up": ("the environment is ready (its smoke checks passed, unless --no-smoke)",
           "a prerequisite, the engine or a smoke check failed: the record says failed; up again resumes, down removes"),
    "down": ("every trace of the environment is gone, its ports and record released",
             "something is left (each named): the record stays, failed, for the next down or reap"),
    "list": ("listed (records that cannot be read are named beside the others)", "the home cannot be read"),
    "status": ("shown", "the home cannot be read"),
    "services": ("listed", "the catalog cannot be read"),
    "render": ("written", "the pod network's objects cannot be had (Calico's manifest, the node image's own)"),
    "scale": ("the replicas changed and rolled out", "the engine failed: the record says failed; scale or up again"),
    "smoke": ("no check failed (skipped ones do not fail)", "a check failed, with its diagnosis"),
    "verify": ("every check passed and the teardown left nothing; reports written",
               "a check or the teardown failed; reports written, down ran for what verify created"),
    "reap": ("removed (or, with --dry-run, listed) what was expired or orphaned",
             "something could not be removed; it is named"),
    "doctor": ("every needed check passed (warnings allowed)", "something needed is missing; each line says the fix"),
    "logs": ("the output was shown until it ended (or Ctrl-C stopped following it)",
             "the cluster or Docker could not be read"),
    "dev": ("stopped with Ctrl-C; the environment runs on with the synced code",
            "the environment could not be watched or reached; what failed is said"),
    "images build": ("built (or already there)", "a build failed"),
    "images base": ("made (or already there)", "making it failed"),
    "images broker": ("made (or already there)", "making it failed"),
    "images prune": ("removed (or nothing to remove)", "Docker could not be asked"),
}


def exit_codes(command: str) -> str:
    """The epilog of `command`'s --help."""
    ok, failed = MEANINGS[command]
    return f"Exit codes: 0 {ok}; 1 {failed}; 2 {BAD_INPUT}."
