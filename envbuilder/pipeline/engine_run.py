"""Running the engine for an environment and turning its failures into messages people can act on."""

import secrets

from envbuilder.errors import EnvbuilderError

_DIAGNOSTIC_PREFIXES = ("error:", "  error:", "    error:")


def engine_error(operation: str, error: Exception) -> EnvbuilderError:
    """The engine's own error lines, not a Python traceback from the Automation API."""
    text = getattr(error, "stderr", "") or getattr(error, "stdout", "") or str(error)
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    relevant = [line for line in lines if line.lower().lstrip().startswith(("error", "*"))] or lines[-15:]
    return EnvbuilderError(f"pulumi {operation} failed:\n  " + "\n  ".join(relevant[-25:]))


def ensure_credentials(stack, keys: list[str]) -> None:
    """Generate each environment's secrets once; later runs reuse them from the stack config."""
    from pulumi import automation as auto

    existing = stack.get_all_config()
    for key in keys:
        if f"envbuilder:{key}" not in existing:
            stack.set_config(key, auto.ConfigValue(value=secrets.token_urlsafe(18), secret=True))
