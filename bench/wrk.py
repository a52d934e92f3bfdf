"""Load generation with wrk: a fixed list of distinct HTTP requests, replayed over keep-alive connections.

wrk (C, epoll, LuaJIT) costs a fraction of the CPU a Python client does per request, which matters on a
2-core machine where the load generator and the server share the cores: measured here, the httpx client
processes used more CPU than the API they measured. `make bench` installs it (Debian package `wrk`).

Each wrk thread reads its own share of the requests (pre-rendered raw HTTP/1.1, length-prefixed) and sends
them in order; the run lasts a fixed duration. A share that runs out wraps around; the script reports how
many requests were sent past the end so a caller whose requests must be unique (webhook events) can tell.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

WRK = "wrk"
RESULT_MARK = "WRK-RESULT "

# setup() runs in its own Lua state: it numbers the threads and keeps them, so done() can read their counters.
LUA = r"""
local threads, counter = {}, 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

-- Globals, not locals: done() reads them with thread:get().
requests, sent, wrapped, bad = {}, 0, 0, 0

function init(args)
  local f = assert(io.open(args[1] .. index .. ".req", "rb"))
  local data = f:read("*a")
  f:close()
  local pos = 1
  while pos <= #data do
    local nl = data:find("\n", pos, true)
    local len = tonumber(data:sub(pos, nl - 1))
    requests[#requests + 1] = data:sub(nl + 1, nl + len)
    pos = nl + 1 + len
  end
end

function request()
  sent = sent + 1
  if sent > #requests then wrapped = wrapped + 1 end
  return requests[(sent - 1) % #requests + 1]
end

function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end

function done(summary, latency, requests_)
  local sent_total, wrapped_total, bad_total = 0, 0, 0
  for _, t in ipairs(threads) do
    sent_total = sent_total + t:get("sent")
    wrapped_total = wrapped_total + t:get("wrapped")
    bad_total = bad_total + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    '%s{"requests": %d, "duration_us": %d, "sent": %d, "wrapped": %d, "non_200": %d, ' ..
    '"socket_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    "WRK-RESULT ", summary.requests, summary.duration, sent_total, wrapped_total, bad_total,
    e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None

    def render(self, host: str) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        if self.body is not None:
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + (self.body or b"")


def available() -> bool:
    return shutil.which(WRK) is not None


def run_wrk(
    url: str, requests: Sequence[Request], *, seconds: float, connections: int, threads: int = 1
) -> dict[str, Any]:
    """Replay `requests` against `url` for `seconds`; latency percentiles, rate, errors and wrk's own CPU."""
    if not available():
        raise RuntimeError("wrk is not installed: run `make wrk` (Debian package `wrk`)")
    host = urlsplit(url).netloc
    threads = max(1, min(threads, connections))
    with tempfile.TemporaryDirectory(prefix="lectern-wrk-") as tmp:
        folder = Path(tmp)
        for n in range(threads):
            with (folder / f"{n}.req").open("wb") as out:
                for req in requests[n::threads]:
                    raw = req.render(host)
                    out.write(f"{len(raw)}\n".encode() + raw)
        script = folder / "replay.lua"
        script.write_text(LUA)
        cmd = [
            WRK,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            url,
            "--",
            f"{folder}/",
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((x for x in done.stdout.splitlines() if x.startswith(RESULT_MARK)), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    raw = json.loads(line[len(RESULT_MARK) :])
    elapsed = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "errors": raw["non_200"] + raw["socket_errors"] + raw["timeouts"],
        "seconds": round(elapsed, 3),
        "per_second": round(raw["requests"] / elapsed, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p90_ms": round(raw["p90_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "concurrency": connections,
        "distinct_requests": len(requests),
        "sent_past_the_end": raw["wrapped"],
        "load_generator": f"wrk -t{threads} -c{connections}",
        "client_cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2),
    }
