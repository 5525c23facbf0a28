"""The environment lifecycle: `up` and `down` as ordered lists of small actions, each with a status line."""
