"""python -m vgrad_gui: the same as the vgrad-gui command."""

import sys

from vgrad_gui.cli import main

if __name__ == "__main__":
    sys.exit(main())
