"""`make clean` removes what setup and the product made, saying what, and keeps an image still in use."""

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FAKE_DOCKER = """#!/bin/sh
case "$1 $2" in
  "info "*) exit 0 ;;
  "images "*) printf 'envbuilder/kind-node:v1.35.4\\nenvbuilder/web:abc1234-dirty-0a1b\\nenvbuilder/f5-mock:abc1234\\n'
              printf 'someone/else:1\\nenvbuilder-test/empty:latest\\n' ;;
  "image rm")
    echo "$3" >> "$REMOVED"
    [ "$3" = envbuilder/f5-mock:abc1234 ] && { echo "Error response from daemon: conflict: unable to remove repository reference \\"$3\\" (must force) - container 0123abcd is using its referenced image" >&2; exit 1; }
    exit 0 ;;
esac
exit 2
"""


def test_clean_removes_the_venv_tools_caches_and_envbuilders_images_and_names_each(tmp_path):
    top = tmp_path / "repo"
    (top / "tools").mkdir(parents=True)
    (top / "tools" / "clean.sh").write_text((REPO / "tools" / "clean.sh").read_text())
    for made in (".venv/bin", ".tools/bin", "build/wheels"):
        (top / made).mkdir(parents=True)
    cache = tmp_path / "cache"
    (cache / "toolchain" / "gomodcache").mkdir(parents=True)
    (cache / "toolchain" / "gomodcache" / "module.go").write_text("package m\n")
    (cache / "toolchain" / "gomodcache").chmod(0o555)  # Go's module cache is read-only
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "docker").write_text(FAKE_DOCKER)
    (fake / "docker").chmod(0o755)
    removed = tmp_path / "removed"

    result = subprocess.run(
        ["bash", str(top / "tools" / "clean.sh")], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}", "ENVBUILDER_CACHE": str(cache),
             "REMOVED": str(removed)},
    )

    assert result.returncode == 0, result.stderr
    assert not any((top / made).exists() for made in (".venv", ".tools", "build")) and not cache.exists()
    lines = result.stdout.splitlines()
    assert f"removed {top / '.venv'}" in lines and f"removed {cache}" in lines
    assert {"removed image envbuilder/kind-node:v1.35.4", "removed image envbuilder/web:abc1234-dirty-0a1b",
            "removed image envbuilder-test/empty:latest"} <= set(lines)
    assert any(line.startswith("kept image envbuilder/f5-mock:abc1234: ") and "container 0123abcd" in line
               for line in lines)
    assert "someone/else:1" not in removed.read_text()
