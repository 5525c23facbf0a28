"""Running the engine for an environment and turning its failures into messages people can act on."""

import secrets

from envbuilder.errors import EnvbuilderError

MAX_DIAGNOSTIC_LINES = 40


def engine_error(operation: str, error: Exception) -> EnvbuilderError:
    """The engine's diagnostics for each failed resource, not the Automation API's wrapping."""
    text = str(error)
    start, end = text.find("Diagnostics:"), text.find("\nResources:")
    if start >= 0:
        section = text[start + len("Diagnostics:") : end if end > start else None]
        lines = [line.rstrip() for line in section.splitlines() if line.strip() and "warning:" not in line]
    else:
        lines = [line.rstrip() for line in text.splitlines() if "error" in line.lower()]
    return EnvbuilderError(f"pulumi {operation} failed:\n" + "\n".join(lines[-MAX_DIAGNOSTIC_LINES:]))


def ensure_credentials(stack, keys: list[str]) -> None:
    """Generate each environment's secrets once; later runs reuse them from the stack config."""
    from pulumi import automation as auto

    existing = stack.get_all_config()
    for key in keys:
        if f"envbuilder:{key}" not in existing:
            stack.set_config(key, auto.ConfigValue(value=secrets.token_urlsafe(18), secret=True))
