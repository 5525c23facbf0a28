"""Running the envbuilder CLI of another checkout, to time a former version in the same session."""

# Run with `python -c LAUNCH ARGS...` and ENVBUILDER_CODE=<checkout>: that checkout's envbuilder and
# component packages are imported, not the venv's editable install of this repository (found first
# otherwise, whatever PYTHONPATH says).
LAUNCH = """import os, sys
sys.meta_path[:] = [finder for finder in sys.meta_path if "__editable__" not in getattr(finder, "__module__", "")]
code = os.environ["ENVBUILDER_CODE"]
sys.path[:0] = [code, f"{code}/components/f5mock", f"{code}/components/f5sync"]
from envbuilder.cli import main
sys.argv[0] = "envbuilder"
main()
"""
