# SPDX-License-Identifier: Apache-2.0
"""The conformance "internet": a network namespace the test creates, linked to
the host's namespace by a veth pair, holding an authoritative DNS server for
the test zone, HTTP/HTTPS servers on many addresses (one per test name), raw
TCP and UDP services and a fake cloud-metadata server (internet_daemon.py
runs them all and logs everything it receives). Plus, in the host's own
namespace, listeners that stand for the host's services (an sshd-like
listener on every address, another on the host side of the fixture link).

Layout (never inside 10.213.0.0/16, the sandbox pool):

  host netns                                  fixture netns  crconf-<pid>
  crcf<pid>  10.254.0.1/24  <== veth ==>  inet0  10.254.0.2/24
  route 10.254.0.0/16 via 10.254.0.2              10.254.0.53  (DNS)
  route 169.254.169.254/32 via 10.254.0.2         10.254.1.x   (one per name, see RECORDS)
                                                  169.254.169.254 (metadata)
                                                  fd00:254::2/64 (when the host has IPv6)
                                                  default via 10.254.0.1

Creation order is recorded so that teardown removes exactly what was made,
also after a failure half-way; a namespace or link left by a crashed run
(same prefix, its pid gone) is removed before a new one is made. While the
fixture is up, IPv4 forwarding in the host namespace is switched on (unless
`--keep-ip-forward`) and the fixture namespace routes everything back to the
host: a packet a product forgot to drop would really arrive, and the
fixture's counters and logs would show it. The previous value is restored.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = "/usr/bin/python3"  # Debian's python3 (dnslib); the pyenv one on PATH has neither dnslib nor pytest

NS_PREFIX = "crconf-"
LINK_PREFIX = "crcf"
STATE_DIR = Path("/run/cleanroom-conformance")  # per-pid records, for the stale-run cleanup

HOST_ADDR = "10.254.0.1"
NS_ADDR = "10.254.0.2"
DNS_ADDR = "10.254.0.53"
FIXTURE_NET = "10.254.0.0/16"
METADATA_ADDR = "169.254.169.254"
V6_HOST, V6_NS = "fd00:254::1", "fd00:254::2"
ZONE = "test"
SANDBOX_POOL = "10.213.0.0/16"  # the contract's default pool; the suite's server uses 10.213.64.0/20 in it

# name -> addresses (A records). "*.deny.test" answers every subdomain, so a
# tunnelling query that got through would be answered (and logged).
RECORDS = {
    "allowed.test": ["10.254.1.10"],
    "api.allowed.test": ["10.254.1.11"],
    "other.test": ["10.254.1.20"],
    "wild.test": ["10.254.1.30"],
    "sub.wild.test": ["10.254.1.31"],
    "deep.sub.wild.test": ["10.254.1.32"],
    "deny.test": ["10.254.1.40"],
    "*.deny.test": ["10.254.1.41"],
    "good.mixed.test": ["10.254.1.50"],
    "bad.mixed.test": ["10.254.1.51"],
    "sni-target.test": ["10.254.1.60"],
    "xn--bcher-kva.test": ["10.254.1.70"],  # bücher.test
    "multi.test": ["10.254.1.80", "10.254.1.81", "10.254.1.82"],
    "meta.test": [METADATA_ADDR],
}
# Addresses without a name, for IP-literal and CIDR rules: 10.254.1.88/29
# covers .88-.95 (so .90, .92, .93), .97 is outside it.
BARE_ADDRS = ["10.254.1.90", "10.254.1.92", "10.254.1.93", "10.254.1.97"]

HTTP_PORTS = [80, 8080]
HTTPS_PORTS = [443]
TCP_ECHO_PORT = 7000
UDP_ECHO_PORT = 7001
QUIC_PORT = 443
ALT_DNS_PORT = 5353


def addr(name):
    """The first address of a test name."""
    return RECORDS[name][0]


def is_sandbox_addr(a):
    """A sandbox's own address under the contract's layout (pool, block +2)."""
    parts = a.split(".")
    return len(parts) == 4 and a.startswith("10.213.") and int(parts[3]) % 4 == 2


def all_fixture_addrs():
    out = {NS_ADDR, DNS_ADDR, METADATA_ADDR, *BARE_ADDRS}
    for addrs in RECORDS.values():
        out.update(addrs)
    return sorted(out, key=lambda a: tuple(int(x) for x in a.split(".")))


def run(*argv, check=True, input=None):
    p = subprocess.run(list(argv), capture_output=True, text=True, input=input, timeout=60)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prerequisites():
    """None when the fixture can be built here, else the reason it cannot."""
    if os.geteuid() != 0:
        return "the fixture internet needs root (network namespaces, veth, routes)"
    for tool in ("ip", "nft", "openssl"):
        if not shutil.which(tool):
            return f"the fixture internet needs the '{tool}' command"
    if not os.access(PY, os.X_OK):
        return f"the fixture internet needs {PY}"
    if run(PY, "-c", "import dnslib", check=False).returncode != 0:
        return "the fixture internet needs python3-dnslib for " + PY
    return None


def remove_stale():
    """Namespaces, links and host settings left by runs whose process is gone."""
    names = run("ip", "netns", "list", check=False).stdout.split()
    for ns in names:
        if not ns.startswith(NS_PREFIX):
            continue
        try:
            pid = int(ns[len(NS_PREFIX):])
        except ValueError:
            continue
        if pid_alive(pid):
            continue  # a live run owns it (this one included)
        kill_ns_processes(ns)
        run("ip", "netns", "del", ns, check=False)
    for line in run("ip", "-o", "link", "show", check=False).stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
        if name.startswith(LINK_PREFIX) and name[len(LINK_PREFIX):].isdigit():
            pid = int(name[len(LINK_PREFIX):])
            if not pid_alive(pid):
                run("ip", "link", "del", name, check=False)
    if STATE_DIR.is_dir():
        for rec in STATE_DIR.glob("*.json"):
            try:
                pid = int(rec.stem)
                data = json.loads(rec.read_text())
            except (ValueError, OSError):
                rec.unlink(missing_ok=True)
                continue
            if pid_alive(pid):
                continue
            if "ip_forward" in data:
                Path("/proc/sys/net/ipv4/ip_forward").write_text(data["ip_forward"])
            rec.unlink(missing_ok=True)


def kill_ns_processes(ns):
    pids = run("ip", "netns", "pids", ns, check=False).stdout.split()
    for p in pids:
        try:
            os.kill(int(p), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


class HostListener:
    """A TCP listener in the host's namespace that greets with a banner and
    records every peer: a host service the sandbox must never reach."""

    def __init__(self, bind, port, banner):
        self.banner = banner
        self.peers = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((bind, port))
        self.sock.listen(16)
        self.addr = self.sock.getsockname()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while True:
            try:
                c, peer = self.sock.accept()
            except OSError:
                return
            self.peers.append((time.time(), peer[0], c.getsockname()[0]))
            try:
                c.sendall(self.banner.encode() + b"\r\n")
            except OSError:
                pass
            c.close()

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def bind_first_free(bind, ports, banner):
    for port in ports:
        try:
            return HostListener(bind, port, banner)
        except OSError:
            continue
    return HostListener(bind, 0, banner)


class Internet:
    """The fixture. `start()` builds it; `stop()` removes everything that was
    made, whatever state `start()` reached."""

    def __init__(self, enable_forwarding=True, name_id=None, fail_at=None):
        self.pid = name_id or os.getpid()
        self.fail_at = fail_at  # self-tests: raise after this step to check the teardown
        self.ns = f"{NS_PREFIX}{self.pid}"
        self.link = f"{LINK_PREFIX}{self.pid}"
        self.dir = None
        self.daemon = None
        self.made = []  # what to undo, newest last
        self.enable_forwarding = enable_forwarding
        self.has_v6 = False
        self.ssh = None  # sshd-like listener on every host address
        self.svc = None  # a service on the host side of the fixture link
        self.host_addrs = []

    # ---- paths
    @property
    def log_path(self):
        return self.dir / "internet.log"

    @property
    def ca_pem(self):
        return self.dir / "ca.pem"

    def ns_run(self, *argv, check=True):
        return run("ip", "netns", "exec", self.ns, *argv, check=check)

    # ---- building
    def start(self):
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self):
        remove_stale()
        # names with our own id can only be a leftover of an earlier process that had this pid
        run("ip", "netns", "del", self.ns, check=False)
        run("ip", "link", "del", self.link, check=False)
        self.check_free()
        self.dir = Path(tempfile.mkdtemp(prefix=f"crconf-{self.pid}-", dir="/var/tmp"))
        self.made.append(("dir",))
        os.chmod(self.dir, 0o755)
        self.make_ca()
        STATE_DIR.mkdir(mode=0o700, exist_ok=True)
        record = STATE_DIR / f"{self.pid}.json"
        state = {"ns": self.ns, "link": self.link}
        if self.enable_forwarding:
            state["ip_forward"] = Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()
        record.write_text(json.dumps(state))
        self.made.append(("record", record, state.get("ip_forward")))

        run("ip", "netns", "add", self.ns)
        self.made.append(("netns",))
        run("ip", "link", "add", self.link, "type", "veth", "peer", "name", "inet0", "netns", self.ns)
        self.made.append(("link",))
        if self.fail_at == "link":
            raise RuntimeError("failure injected after the link was made")
        run("ip", "addr", "add", f"{HOST_ADDR}/24", "dev", self.link)
        run("ip", "link", "set", self.link, "up")
        self.ns_run("ip", "link", "set", "lo", "up")
        self.ns_run("ip", "addr", "add", f"{NS_ADDR}/24", "dev", "inet0")
        for a in all_fixture_addrs():
            if a != NS_ADDR:
                self.ns_run("ip", "addr", "add", f"{a}/32", "dev", "inet0")
        self.ns_run("ip", "link", "set", "inet0", "up")
        self.ns_run("ip", "route", "add", "default", "via", HOST_ADDR)
        run("ip", "route", "add", FIXTURE_NET, "via", NS_ADDR, "dev", self.link)
        run("ip", "route", "add", f"{METADATA_ADDR}/32", "via", NS_ADDR, "dev", self.link)
        self.setup_v6()
        self.setup_counters()
        if self.enable_forwarding:
            Path("/proc/sys/net/ipv4/ip_forward").write_text("1")
        self.start_daemon()
        self.ssh = bind_first_free("0.0.0.0", [2222, 2223, 2224], "SSH-2.0-cleanroom-conformance-host")
        self.svc = bind_first_free(HOST_ADDR, [9999, 9998], "HOST-SERVICE cleanroom-conformance")
        self.host_addrs = host_ipv4_addrs()

    def check_free(self):
        """10.254.0.0/16 must not be routed yet (another tool's network, or a
        live conformance run: one run per host at a time)."""
        for line in run("ip", "-4", "route", "show").stdout.splitlines():
            dst = line.split()[0]
            if not dst.startswith("10.254.") or f" dev {LINK_PREFIX}{os.getpid()} " in line + " ":
                continue  # (this process's own fixture: the self-tests build a second one beside it)
            if f" dev {LINK_PREFIX}" in line:
                raise RuntimeError(f"another conformance run holds the fixture network ({line}); "
                                   "runs on one host must not overlap")
            raise RuntimeError(f"the fixture network {FIXTURE_NET} is already routed on this host: {line}")

    def setup_v6(self):
        if Path("/proc/sys/net/ipv6/conf/all/disable_ipv6").read_text().strip() != "0":
            return
        ok = run("ip", "-6", "addr", "add", f"{V6_HOST}/64", "dev", self.link, "nodad", check=False)
        ok2 = self.ns_run("ip", "-6", "addr", "add", f"{V6_NS}/64", "dev", "inet0", "nodad", check=False)
        self.has_v6 = ok.returncode == 0 and ok2.returncode == 0

    def setup_counters(self):
        """nftables counters in the fixture namespace (not the host's): packets
        from outside the fixture network, from a sandbox's own address (the
        contract's /30 layout puts sandboxes at +2: any such packet was
        forwarded, i.e. leaked), ICMP echo requests, UDP to the echo, QUIC
        and alternate DNS ports, and IPv6 other than ICMPv6."""
        rules = f"""
table inet conformance {{
    counter foreign_src {{}}
    counter sandbox_src {{}}
    counter icmp_echo {{}}
    counter udp_echo {{}}
    counter udp_quic {{}}
    counter udp_altdns {{}}
    counter ipv6_in {{}}
    chain input {{
        type filter hook input priority 0; policy accept;
        iifname "lo" accept
        ip saddr != {FIXTURE_NET} counter name foreign_src
        ip saddr {SANDBOX_POOL} ip saddr & 0.0.0.3 == 0.0.0.2 counter name sandbox_src
        meta l4proto icmp icmp type echo-request counter name icmp_echo
        udp dport {UDP_ECHO_PORT} counter name udp_echo
        udp dport {QUIC_PORT} counter name udp_quic
        udp dport {ALT_DNS_PORT} counter name udp_altdns
        meta nfproto ipv6 meta l4proto != ipv6-icmp counter name ipv6_in
    }}
}}
"""
        run("ip", "netns", "exec", self.ns, "nft", "-f", "-", input=rules)

    def counters(self):
        """{name: packets} of the fixture namespace's counters."""
        out = self.ns_run("nft", "-j", "list", "counters").stdout
        result = {}
        for item in json.loads(out).get("nftables", []):
            c = item.get("counter")
            if c and c.get("table") == "conformance":
                result[c["name"]] = c.get("packets", 0)
        return result

    def make_ca(self):
        d = self.dir
        names = [n for n in RECORDS] + ["*.allowed.test", "*.wild.test", "*.mixed.test"]
        ips = all_fixture_addrs()
        san = ",".join([f"DNS:{n}" for n in names] + [f"IP:{a}" for a in ips])
        (d / "srv.ext").write_text(f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n"
                                   "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        run("openssl", "req", "-x509", *ec, "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"),
            "-days", "2", "-subj", "/CN=cleanroom conformance test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        run("openssl", "req", *ec, "-keyout", str(d / "srv.key"), "-out", str(d / "srv.csr"),
            "-subj", "/CN=allowed.test")
        run("openssl", "x509", "-req", "-in", str(d / "srv.csr"), "-CA", str(d / "ca.pem"), "-CAkey",
            str(d / "ca.key"), "-CAcreateserial", "-days", "2", "-out", str(d / "srv.pem"),
            "-extfile", str(d / "srv.ext"))
        os.chmod(d / "ca.pem", 0o644)

    def start_daemon(self):
        cfg = {
            "log": str(self.log_path), "zone": ZONE, "records": RECORDS, "ttl": 30, "dns_addr": DNS_ADDR,
            "http_ports": HTTP_PORTS, "https_ports": HTTPS_PORTS, "tcp_echo_port": TCP_ECHO_PORT,
            "udp_echo_port": UDP_ECHO_PORT, "quic_port": QUIC_PORT, "cert": str(self.dir / "srv.pem"),
            "key": str(self.dir / "srv.key"), "v6_addr": V6_NS if self.has_v6 else None,
        }
        (self.dir / "daemon.json").write_text(json.dumps(cfg))
        self.log_path.touch()
        self.daemon = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, PY, str(HERE / "internet_daemon.py"), str(self.dir / "daemon.json")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(self.dir / "daemon.err", "wb"))
        self.made.append(("daemon",))
        line = self.daemon.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError("the fixture daemon did not start: " + (self.dir / "daemon.err").read_text())

    # ---- reading what arrived
    def mark(self):
        """A position in the log; events_since(mark) returns what came after it."""
        return self.log_path.stat().st_size

    def events_since(self, mark=0, **match):
        with open(self.log_path) as f:
            f.seek(mark)
            events = [json.loads(line) for line in f if line.endswith("\n")]
        return [e for e in events if all(e.get(k) == v for k, v in match.items())]

    def dns_names_since(self, mark=0):
        return [e["qname"].lower().rstrip(".") for e in self.events_since(mark, ev="dns")]

    # ---- teardown
    def stop(self):
        errors = []
        for item in reversed(self.made):
            try:
                self.undo(item)
            except Exception as e:  # keep going: every step must be tried
                errors.append(f"{item[0]}: {e}")
        self.made = []
        for listener in (self.ssh, self.svc):
            if listener:
                listener.close()
        if errors:
            raise RuntimeError("fixture teardown: " + "; ".join(errors))

    def undo(self, item):
        kind = item[0]
        if kind == "daemon" and self.daemon:
            if self.daemon.poll() is None:
                self.daemon.terminate()
                try:
                    self.daemon.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.daemon.kill()
                    self.daemon.wait()
            self.daemon.stdin.close()
            self.daemon.stdout.close()
        elif kind == "link":
            run("ip", "link", "del", self.link, check=False)
        elif kind == "netns":
            kill_ns_processes(self.ns)
            run("ip", "netns", "del", self.ns)
        elif kind == "record":
            _, record, forward = item
            if forward is not None:
                Path("/proc/sys/net/ipv4/ip_forward").write_text(forward)
            record.unlink(missing_ok=True)
        elif kind == "dir":
            shutil.rmtree(self.dir, ignore_errors=True)


def host_ipv4_addrs():
    """The host's own IPv4 addresses outside loopback and the fixture link."""
    out = []
    for line in run("ip", "-o", "-4", "addr", "show").stdout.splitlines():
        parts = line.split()
        dev, a = parts[1], parts[3].split("/")[0]
        if dev == "lo" or dev.startswith(LINK_PREFIX) or dev.startswith("crsb"):
            continue
        out.append(a)
    return out
