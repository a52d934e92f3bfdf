"""Sub-commands mounted by `lectern.cli` (each module exposes a typer app `app` or a function `command`)."""
