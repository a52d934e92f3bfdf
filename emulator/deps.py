"""FastAPI dependencies shared by the route modules."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Depends, Request

from emulator.runtime import Emulator


def get_emulator(request: Request) -> Emulator:
    return request.app.state.emulator  # type: ignore[no-any-return]


Emu = Annotated[Emulator, Depends(get_emulator)]
# Bodies are parsed by hand so errors read like Mux's (pydantic's 422 shape is not what Mux returns).
JsonBody = Annotated[Any, Body()]
