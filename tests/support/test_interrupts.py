"""The suite's own set-up: the commands tests start can be interrupted with Ctrl-C however the suite was
launched (in a background job, a shell gives it SIGINT ignored)."""

import subprocess
import sys


def test_a_command_a_test_starts_turns_ctrl_c_into_keyboard_interrupt():
    shown = subprocess.run([sys.executable, "-c", "import signal; print(signal.getsignal(signal.SIGINT))"],
                           capture_output=True, text=True, timeout=60)
    assert shown.stdout.strip() == "<built-in function default_int_handler>", shown.stdout + shown.stderr
