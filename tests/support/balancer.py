"""nginx on loopback in front of several service replicas, with the configuration docs/operations.md shows.

The documented block (the first ```nginx fence under "Several replicas") is used as written,
except for its upstream `server` lines and `listen` port, which become the test's free ports;
around it go only what a standalone nginx needs (pid, logs and temporary files in a folder
of its own, `daemon off`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from support.live import HOST, answers, free_port, wait_for
from support.service import ROOT

__all__ = ["documented_config", "nginx_binary", "running_nginx"]

DOCS = ROOT / "docs" / "operations.md"
_FENCE = re.compile(r"```nginx\n(.*?)```", re.S)
_SERVER = re.compile(r"^(\s*)server 127\.0\.0\.1:\d+( [^;]*)?;\n", re.M)
_LISTEN = re.compile(r"listen 127\.0\.0\.1:\d+;")


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        raise RuntimeError("nginx not found (scripts/setup-tests installs nginx-light)")
    return found


def documented_config(upstreams: Sequence[int], listen: int) -> str:
    """The docs' nginx block with these upstream ports (in its `server` lines' form) and this listen port."""
    blocks = _FENCE.findall(DOCS.read_text(encoding="utf-8"))
    if not blocks:
        raise AssertionError(f"{DOCS} shows no ```nginx configuration")
    block = blocks[0]
    servers = list(_SERVER.finditer(block))
    if not servers or not _LISTEN.search(block):
        raise AssertionError("the documented nginx block needs `server 127.0.0.1:PORT ...;` lines and a listen")
    indent, options = servers[0].group(1), servers[0].group(2) or ""
    lines = "".join(f"{indent}server {HOST}:{port}{options};\n" for port in upstreams)
    block = block[: servers[0].start()] + lines + _SERVER.sub("", block[servers[0].start():])
    return _LISTEN.sub(f"listen {HOST}:{listen};", block)


@contextmanager
def running_nginx(directory: Path, upstreams: Sequence[int]) -> Iterator[int]:
    """nginx balancing over `upstreams` (loopback ports); yields the port it listens on."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    temp = "\n".join(f"    {kind}_temp_path {directory / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                                 "uwsgi", "scgi"))
    conf = directory / "nginx.conf"
    conf.write_text(f"daemon off;\npid {directory / 'nginx.pid'};\nerror_log {directory / 'error.log'} warn;\n"
                    f"events {{ worker_connections 1024; }}\nhttp {{\n    access_log off;\n{temp}\n"
                    f"{documented_config(upstreams, port)}\n}}\n", encoding="utf-8")
    proc = subprocess.Popen([nginx_binary(), "-p", str(directory), "-e", str(directory / "error.log"), "-c",
                             str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: proc.poll() is not None or answers(port, "/healthz") is not None, "nginx to listen")
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited: {(directory / 'error.log').read_text(errors='replace')}")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
