"""A typer group that imports a subcommand's module only when that subcommand runs (or help lists it).

Command modules import what their command needs (the emulator imports FastAPI and pandas, costs imports
pandas, upload imports boto3 and the Mux client): `lectern db upgrade` pays for none of that.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    from typer._click import Command, Context  # typer's own copy of click, which TyperGroup is built on


class LazyGroup(TyperGroup):
    """A group whose extra commands are `lazy_modules` (`name -> module`); each module has a typer `app` or a
    `command`. Subclasses set `lazy_modules`."""

    lazy_modules: ClassVar[Mapping[str, str]] = {}

    def list_commands(self, ctx: Context) -> list[str]:
        modules = self.lazy_modules
        lazy = [name for name in modules if name not in self.commands and _exists(modules[name])]
        return [*super().list_commands(ctx), *lazy]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        modules = self.lazy_modules
        if cmd_name not in self.commands and cmd_name in modules and _exists(modules[cmd_name]):
            self.commands[cmd_name] = _load(cmd_name, modules[cmd_name])
        return super().get_command(ctx, cmd_name)


def _exists(module_name: str) -> bool:
    return importlib.util.find_spec(module_name) is not None


def _load(name: str, module_name: str) -> Command:
    """The module's command built exactly as `add_typer`/`command` on the root app would build it."""
    module: Any = importlib.import_module(module_name)
    holder = typer.Typer()
    if isinstance(getattr(module, "app", None), typer.Typer):
        holder.add_typer(module.app, name=name)
    elif callable(getattr(module, "command", None)):
        holder.command(name)(module.command)
    else:
        raise TypeError(f"{module_name} has neither a typer `app` nor a `command` function")
    return typer.main.get_group(holder).commands[name]
