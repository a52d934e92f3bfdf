"""Sign-in throttling by client address against a real `streamlit run` process, from clients bound to
127.0.0.2 and 127.0.0.3 (Streamlit reports no address for 127.0.0.1, so loopback alone would prove nothing).

The client speaks Streamlit's own WebSocket protocol (BackMsg/ForwardMsg protobufs on /_stcore/stream), as
the browser does: it runs the app, finds the sign-in form's widget ids in the deltas, submits the form and
reads the alert. The failures it leaves in the platform DB show which address the dashboard saw.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

from core.db.engine import make_engine, make_session_factory, transaction
from core.db.models import SignInFailure
from lectern.commands.dashboard import dashboard_argv, dashboard_env
from tests.conftest import free_port
from tests.dashboard.test_auth import lockout_s
from tests.dashboard.test_browser import wait_healthy
from tests.dashboard.world import PASSWORD, World

ROOT = Path(__file__).resolve().parents[2]
TRUSTED_PROXY = "127.0.0.3"


@dataclass
class Dashboard:
    port: int
    world: World


@pytest.fixture(scope="module")
def dashboard(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MUX_", "LECTERN_", "S3_", "AWS_"))}
    env = dashboard_env(
        {**clean, **world.env(), "LECTERN_TRUSTED_PROXIES": TRUSTED_PROXY, "LECTERN_SIGNIN_PAIR_MAX_FAILURES": "2"},
        [f"{TRUSTED_PROXY}/32"],
    )
    log = (tmp_path_factory.mktemp("signin-address") / "streamlit.log").open("wb")
    argv = [*dashboard_argv("127.0.0.1", port), "--browser.gatherUsageStats", "false"]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        yield Dashboard(port, world)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        engine = make_engine(world.database_url)
        with transaction(make_session_factory(engine)) as session:
            session.execute(delete(SignInFailure))
        engine.dispose()


class StreamlitClient:
    """One browser tab: a WebSocket from `source` to the dashboard, running the app and submitting forms."""

    def __init__(self, port: int, source: str, headers: dict[str, str] | None = None) -> None:
        sock = socket.socket()
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
        self.ws = connect(
            f"ws://127.0.0.1:{port}/_stcore/stream",
            sock=sock,
            subprotocols=["streamlit"],  # type: ignore[list-item]
            additional_headers=headers or {},
            open_timeout=30,
        )
        self.widgets: dict[str, str] = {}  # label -> widget id
        self.alerts: list[str] = []

    def close(self) -> None:
        self.ws.close()

    def _run(self, widget_values: dict[str, str] | None = None, submit: bool = False) -> None:
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = ""
        for label, value in (widget_values or {}).items():
            widget = state.widget_states.widgets.add()
            widget.id = self.widgets[label]
            widget.string_value = value
        if submit:
            widget = state.widget_states.widgets.add()
            widget.id = self.widgets["Sign in"]
            widget.trigger_value = True
        self.ws.send(msg.SerializeToString())
        self.alerts = []
        while True:
            forward = ForwardMsg()
            forward.ParseFromString(self.ws.recv(timeout=60))
            kind = forward.WhichOneof("type")
            if kind == "delta" and forward.delta.WhichOneof("type") == "new_element":
                element = forward.delta.new_element
                which = element.WhichOneof("type")
                if which in ("text_input", "button"):
                    proto = getattr(element, which)
                    self.widgets[proto.label] = proto.id
                elif which == "alert":
                    self.alerts.append(element.alert.body)
            elif kind == "script_finished":
                return

    def sign_in(self, email: str, password: str) -> list[str]:
        if not self.widgets:
            self._run()
        self._run({"Email": email, "Password": password}, submit=True)
        return self.alerts


def addresses_for(world: World, email: str) -> list[str]:
    engine = make_engine(world.database_url)
    with make_session_factory(engine)() as session:
        found = session.execute(select(SignInFailure.address).where(SignInFailure.email == email)).scalars().all()
    engine.dispose()
    return sorted(found)


def attempts(dashboard: Dashboard, source: str, email: str, passwords: list[str], **headers: str) -> list[list[str]]:
    client = StreamlitClient(dashboard.port, source, headers)
    try:
        return [client.sign_in(email, password) for password in passwords]
    finally:
        client.close()


def test_failures_from_127_0_0_2_lock_that_address_out_and_not_another(dashboard: Dashboard) -> None:
    world = dashboard.world
    email = world.emails["teacher_b"]
    # Two tabs from 127.0.0.2, as reloading would make: the lock follows the address, not the tab.
    assert attempts(dashboard, "127.0.0.2", email, ["wrong"]) == [["Email or password is incorrect."]]
    second, third = attempts(dashboard, "127.0.0.2", email, ["wrong", PASSWORD])
    assert second == ["Email or password is incorrect."]
    assert [lockout_s(alert) for alert in third] == [pytest.approx(900, abs=30)]
    assert addresses_for(world, email) == ["127.0.0.2", "127.0.0.2"]
    # The teacher, from another address, still signs in (the alerts are gone: the app reran signed in).
    assert attempts(dashboard, "127.0.0.4", email, [PASSWORD]) == [[]]


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(dashboard: Dashboard) -> None:
    world = dashboard.world
    email = world.emails["analyst"]
    attempts(dashboard, "127.0.0.2", email, ["wrong"], **{"X-Forwarded-For": "198.51.100.20"})  # forged
    attempts(dashboard, TRUSTED_PROXY, email, ["wrong"], **{"X-Forwarded-For": "1.2.3.4, 198.51.100.30"})
    # From 127.0.0.1 Streamlit's own server would believe the header too, unless told which proxies to trust.
    attempts(dashboard, "127.0.0.1", email, ["wrong"], **{"X-Forwarded-For": "198.51.100.40"})
    assert addresses_for(world, email) == ["127.0.0.1", "127.0.0.2", "198.51.100.30"]
