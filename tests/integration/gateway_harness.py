# SPDX-License-Identifier: Apache-2.0
"""What the gateway tests share: entering a test network namespace from this
thread, running `cleanroom __gateway` there with its three pipes, and the
server's end of its audit pipe."""
import ctypes
import json
import os
import subprocess
import time
from contextlib import contextmanager

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


@contextmanager
def in_netns(name):
    """This thread inside netns `name` (sockets made here stay there)."""
    with open(f"/run/netns/{name}") as target, open("/proc/thread-self/ns/net") as home:
        if _libc.setns(target.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        try:
            yield
        finally:
            if _libc.setns(home.fileno(), CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")


class Audit:
    """The server's end of the audit pipe: one JSON object per line."""

    def __init__(self, fd):
        self.fd = fd
        os.set_blocking(fd, False)
        self.buf = b""
        self.events = []

    def read(self):
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.buf += chunk
        *lines, self.buf = self.buf.split(b"\n")
        self.events.extend(json.loads(line) for line in lines)  # every line is one JSON object
        return self.events

    def matching(self, **fields):
        return [e for e in self.read() if all(e.get(k) == v for k, v in fields.items())]

    def wait_all(self, timeout, **fields):
        """Every event with these fields, once there is one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.matching(**fields)
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no audit event with {fields}; got:\n" + "\n".join(map(json.dumps, self.read())))


def spawn_gateway(binary, netns, policy, sandbox_id, gateway_addr, sandbox_addr, dns_port, proxy_port,
                  upstream, extra=(), audit_class=Audit):
    """Starts `cleanroom __gateway` in `netns` with the policy on a pipe;
    returns (process, write end of its control pipe, audit_class over the
    audit pipe)."""
    pol_r, pol_w = os.pipe()
    aud_r, aud_w = os.pipe()
    ctl_r, ctl_w = os.pipe()
    args = [
        "ip", "netns", "exec", netns, binary, "__gateway",
        "--sandbox-id", sandbox_id, "--gateway-addr", gateway_addr, "--sandbox-addr", sandbox_addr,
        "--dns-port", str(dns_port), "--proxy-port", str(proxy_port),
        "--policy-fd", str(pol_r), "--audit-fd", str(aud_w), "--control-fd", str(ctl_r),
        "--upstream-dns", upstream,
        *extra,
    ]  # fmt: skip
    proc = subprocess.Popen(args, pass_fds=(pol_r, aud_w, ctl_r), stderr=subprocess.PIPE)
    for fd in (pol_r, aud_w, ctl_r):
        os.close(fd)
    os.write(pol_w, policy)
    os.close(pol_w)
    return proc, ctl_w, audit_class(aud_r)
