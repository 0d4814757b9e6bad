"""What the installed git hooks run, and `install`/`uninstall`/`doctor`."""
