# SPDX-License-Identifier: Apache-2.0
"""Network probes run INSIDE a sandbox by the conformance cases (uploaded in
the workspace, run with the image's python3, standard library only so that
any backend's image can run it). Usage:

  probe.py TAG curl CURL-ARGS...        run curl; status, headers, body
  probe.py TAG dns SERVER NAME QTYPE [tcp] [PORT]
  probe.py TAG resolve NAME             the system resolver (getaddrinfo)
  probe.py TAG tcp HOST PORT [TEXT]     connect, send TEXT, read the answer
  probe.py TAG tcp6 ADDR PORT [TEXT]
  probe.py TAG udp HOST PORT TEXT       send one datagram, wait 2 s for a reply
  probe.py TAG icmp HOST                echo request (ping socket, else raw)
  probe.py TAG listen PORT SECONDS FILE accept connections, record peers in FILE,
                                        until SECONDS pass or FILE.stop exists
  probe.py TAG netinfo                  addresses, routes, resolver, proxy variables

Each prints one line: `PROBE {"tag": TAG, ...}`. A probe never fails the
shell script: errors are reported in the JSON (errno names, curl's exit code).
"""
import errno
import fcntl
import json
import os
import random
import socket
import struct
import subprocess
import sys
import time

TIMEOUT = 5.0


def emit(tag, **result):
    result["tag"] = tag
    sys.stdout.write("PROBE " + json.dumps(result, sort_keys=True) + "\n")
    sys.stdout.flush()


def err_name(e):
    if isinstance(e, socket.timeout):
        return "timeout"
    if isinstance(e, socket.gaierror):
        return "gaierror:" + str(e.args[0])
    if getattr(e, "errno", None):
        return errno.errorcode.get(e.errno, str(e.errno))
    return type(e).__name__ + ":" + str(e)


# ---- curl --------------------------------------------------------------------

def split_response(raw):
    """Status, headers and body of `curl -i` output; proxy CONNECT answers and
    1xx answers before the final one are skipped."""
    status, headers, body = None, {}, raw
    while body.startswith("HTTP/"):
        head, sep, rest = body.partition("\r\n\r\n")
        if not sep:
            head, sep, rest = body.partition("\n\n")
        lines = head.replace("\r\n", "\n").split("\n")
        parts = lines[0].split(" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        body = rest
        if not rest.startswith("HTTP/"):
            break
    return status, headers, body


def probe_curl(tag, args):
    t0 = time.time()
    p = subprocess.run(["curl", *args], capture_output=True, timeout=60)
    out = p.stdout.decode("utf-8", "replace")
    status, headers, body = split_response(out)
    emit(tag, kind="curl", rc=p.returncode, status=status, headers=headers, body=body,
         stderr=p.stderr.decode("utf-8", "replace").strip(), seconds=round(time.time() - t0, 3))


# ---- DNS -----------------------------------------------------------------------

QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "MX": 15, "TXT": 16, "AAAA": 28, "ANY": 255}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def dns_query(name, qtype):
    qid = random.randint(0, 0xFFFF)
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    qname = b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split(".")) + b"\0"
    return qid, header + qname + struct.pack(">HH", QTYPES[qtype], 1)


def skip_name(msg, off):
    while True:
        n = msg[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n


def dns_parse(msg):
    qid, flags, qd, an, _, _ = struct.unpack(">HHHHHH", msg[:12])
    off = 12
    for _ in range(qd):
        off = skip_name(msg, off) + 4
    answers = []
    for _ in range(an):
        off = skip_name(msg, off)
        rtype, _, _, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
        rdata = msg[off + 10:off + 10 + rdlen]
        off += 10 + rdlen
        if rtype == 1 and rdlen == 4:
            answers.append(socket.inet_ntoa(rdata))
        elif rtype == 28 and rdlen == 16:
            answers.append(socket.inet_ntop(socket.AF_INET6, rdata))
        else:
            answers.append({"type": rtype, "data": rdata.hex()})
    return qid, flags & 0xF, answers


def probe_dns(tag, server, name, qtype, *rest):
    tcp = "tcp" in rest
    port = next((int(r) for r in rest if r.isdigit()), 53)
    qid, query = dns_query(name, qtype)
    try:
        if tcp:
            s = socket.create_connection((server, port), timeout=TIMEOUT)
            s.sendall(struct.pack(">H", len(query)) + query)
            data = b""
            while len(data) < 2 or len(data) < 2 + struct.unpack(">H", data[:2])[0]:
                chunk = s.recv(65535)
                if not chunk:
                    break
                data += chunk
            s.close()
            msg = data[2:]
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(3.0)
            s.sendto(query, (server, port))
            msg, _ = s.recvfrom(65535)
            s.close()
        rid, rcode, answers = dns_parse(msg)
        emit(tag, kind="dns", answered=True, id_ok=(rid == qid), rcode=RCODES.get(rcode, str(rcode)),
             answers=answers)
    except (OSError, struct.error, IndexError) as e:
        emit(tag, kind="dns", answered=False, error=err_name(e))


def probe_resolve(tag, name):
    try:
        infos = socket.getaddrinfo(name, 80, socket.AF_INET, socket.SOCK_STREAM)
        emit(tag, kind="resolve", addrs=sorted({i[4][0] for i in infos}))
    except OSError as e:
        emit(tag, kind="resolve", addrs=[], error=err_name(e))


# ---- TCP, UDP, ICMP --------------------------------------------------------------

def probe_tcp(tag, host, port, text="", family=socket.AF_INET):
    t0 = time.time()
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    result = {"kind": "tcp", "connected": False, "received": ""}
    try:
        s.connect((host, int(port)))
        result["connected"] = True
        if text:
            s.sendall(text.encode())
        data = b""
        try:
            while len(data) < 65536:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
                s.settimeout(1.0)  # after the first bytes: read until EOF or a second of silence
        except socket.timeout:
            if not data:
                raise
        except OSError as e:
            result["error"] = err_name(e)  # e.g. ECONNRESET after a banner
        result["received"] = data.decode("utf-8", "replace")
    except OSError as e:
        result["error"] = err_name(e)
    finally:
        s.close()
    result["seconds"] = round(time.time() - t0, 3)
    emit(tag, **result)


def probe_udp(tag, host, port, text):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2.0)
    result = {"kind": "udp", "sent": False, "reply": None}
    try:
        s.sendto(text.encode(), (host, int(port)))
        result["sent"] = True
        data, peer = s.recvfrom(65535)
        result["reply"] = data.decode("utf-8", "replace")
        result["peer"] = peer[0]
    except OSError as e:
        result["error"] = err_name(e)
    finally:
        s.close()
    emit(tag, **result)


def icmp_checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def probe_icmp(tag, host):
    result = {"kind": "icmp", "replies": 0}
    payload = b"cleanroom-conformance"
    for name, stype, proto in (("dgram", socket.SOCK_DGRAM, socket.IPPROTO_ICMP),
                               ("raw", socket.SOCK_RAW, socket.IPPROTO_ICMP)):
        try:
            s = socket.socket(socket.AF_INET, stype, proto)
        except OSError as e:
            result[name + "_error"] = err_name(e)
            continue
        s.settimeout(2.0)
        pkt = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1) + payload
        pkt = pkt[:2] + struct.pack("!H", icmp_checksum(pkt)) + pkt[4:]
        try:
            s.sendto(pkt, (host, 0))
            result[name + "_sent"] = True
            while True:
                data, peer = s.recvfrom(2048)
                if peer[0] == host:
                    result["replies"] += 1
                    break
        except OSError as e:
            result[name + "_error"] = err_name(e)
        finally:
            s.close()
    emit(tag, **result)


def probe_listen(tag, port, seconds, path):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(port)))
    s.listen(8)
    s.settimeout(0.2)
    with open(path, "w") as f:
        f.write("listening\n")
    deadline = time.time() + float(seconds)
    peers = []
    while time.time() < deadline and not os.path.exists(path + ".stop"):
        try:
            c, peer = s.accept()
        except socket.timeout:
            continue
        peers.append(peer[0])
        with open(path, "a") as f:
            f.write("peer " + peer[0] + "\n")
        try:
            c.sendall(b"SANDBOX-B-LISTENER\n")
        except OSError:
            pass
        c.close()
    emit(tag, kind="listen", peers=peers)


# ---- what the sandbox's network looks like ----------------------------------------

def ipv4_addrs():
    out = []
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _, name in socket.if_nameindex():
        req = struct.pack("256s", name.encode()[:15])
        try:
            a = socket.inet_ntoa(fcntl.ioctl(s.fileno(), 0x8915, req)[20:24])  # SIOCGIFADDR
            m = socket.inet_ntoa(fcntl.ioctl(s.fileno(), 0x891B, req)[20:24])  # SIOCGIFNETMASK
        except OSError:
            continue
        prefix = bin(struct.unpack("!I", socket.inet_aton(m))[0]).count("1")
        out.append({"dev": name, "addr": a, "prefix": prefix})
    s.close()
    return out


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def routes4():
    out = []
    text = read("/proc/net/route") or ""
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 8:
            continue
        dst = socket.inet_ntoa(struct.pack("<I", int(f[1], 16)))
        gw = socket.inet_ntoa(struct.pack("<I", int(f[2], 16)))
        mask = bin(int(f[7], 16)).count("1")
        out.append({"dev": f[0], "dst": f"{dst}/{mask}", "gateway": gw})
    return out


def probe_netinfo(tag):
    v6 = []
    for line in (read("/proc/net/if_inet6") or "").splitlines():
        f = line.split()
        a = ":".join(f[0][i:i + 4] for i in range(0, 32, 4))
        v6.append({"dev": f[5], "addr": socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, a)),
                   "scope": f[3]})
    v6_routes = []
    for line in (read("/proc/net/ipv6_route") or "").splitlines():
        f = line.split()
        if f and f[9] != "lo":
            v6_routes.append({"dst": f[0] + "/" + str(int(f[1], 16)), "dev": f[9]})
    resolv = [line.split()[1] for line in (read("/etc/resolv.conf") or "").splitlines()
              if line.startswith("nameserver") and len(line.split()) > 1]
    env = {k: os.environ.get(k) for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY",
                                          "no_proxy", "ALL_PROXY", "all_proxy")}
    gateway = next((r["gateway"] for r in routes4() if r["dst"] == "0.0.0.0/0"), None)
    emit(tag, kind="netinfo", ipv4=ipv4_addrs(), routes=routes4(), ipv6=v6, ipv6_routes=v6_routes,
         disable_ipv6=(read("/proc/sys/net/ipv6/conf/all/disable_ipv6") or "").strip() or None,
         resolv=resolv, env=env, gateway=gateway)


def unescape(text):
    """TEXT arguments may carry \\r, \\n, \\x00 escapes."""
    return text.encode("utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8", "replace")


def main(argv):
    tag, kind, args = argv[1], argv[2], argv[3:]
    if kind in ("tcp", "tcp6", "udp") and len(args) > 2:
        args = [*args[:2], unescape(args[2])]
    if kind == "curl":
        probe_curl(tag, args)
    elif kind == "dns":
        probe_dns(tag, *args)
    elif kind == "resolve":
        probe_resolve(tag, *args)
    elif kind == "tcp":
        probe_tcp(tag, *args)
    elif kind == "tcp6":
        probe_tcp(tag, args[0], args[1], args[2] if len(args) > 2 else "", socket.AF_INET6)
    elif kind == "udp":
        probe_udp(tag, *args)
    elif kind == "icmp":
        probe_icmp(tag, *args)
    elif kind == "listen":
        probe_listen(tag, *args)
    elif kind == "netinfo":
        probe_netinfo(tag)
    else:
        emit(tag, kind="usage", error="unknown probe " + kind)


if __name__ == "__main__":
    main(sys.argv)
