#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: network egress through the per-sandbox gateway vs direct, side by
# side in one run (issue 6).
#   1. throughput of a 100 MB HTTPS download from a fixture server: curl in a
#      plain network namespace with a veth straight to the fixture (direct),
#      vs curl in a cleanroom sandbox (transparent proxy of its gateway), plus
#      curl in the host's namespace (the gateway's own upstream path) for
#      reference; curl's speed_download (the transfer, not process start-up);
#   2. time to first byte of 1,000 small HTTP requests, one client process
#      (bench/egress_client.py), a new connection per request, same places;
#   3. `cleanroom exec --no-workspace -- true` (create + exec + terminate)
#      against a server with egress (veth, firewall chains, gateway process)
#      and then against one with --no-egress, with hyperfine.
# The fixture "internet" is a network namespace made here (10.254.0.0/16:
# DNS 10.254.1.53 authoritative for bench.test -> 10.254.1.10, HTTP on :80,
# HTTPS on :443 with a test CA), plus the direct client's namespace; both,
# the servers started here and their state directories are always removed.
#
# Usage (as root): bench/egress.sh [RUNS]   (default 20; downloads and hyperfine runs)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

runs=${1:-20}
[ "$(id -u)" = 0 ] || { echo "bench/egress.sh: run as root (network namespaces, veth, sandboxes)" >&2; exit 1; }
py=/usr/bin/python3 # Debian's: it has dnslib (the pyenv one on PATH does not)
for tool in ip curl openssl "$py"; do
  command -v "$tool" >/dev/null || { echo "bench/egress.sh: needs $tool" >&2; exit 1; }
done
. bench/common.sh
bench_setup hyperfine
"$py" -c 'import dnslib' 2>/dev/null || { echo "bench/egress.sh: needs python3-dnslib" >&2; exit 1; }
cleanroom="$repo/build/src/cli/cleanroom"
unset http_proxy https_proxy no_proxy all_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY ALL_PROXY

# ---- names and addresses -------------------------------------------------------
fx="crbench-f$$"   # fixture netns
cl="crbench-c$$"   # direct client netns
hl="crbf$$"        # host side of the host <-> fixture veth
host_addr=10.254.0.1 fx_addr=10.254.0.2
srv_addr=10.254.1.10 dns_addr=10.254.1.53 name=bench.test
cl_addr=10.254.2.2 fxcl_addr=10.254.2.1
pool=10.213.64.0/20

# leftovers of an earlier run that died (its pid is gone)
for ns in $(ip netns list | awk '{print $1}' | grep -E '^crbench-[fc][0-9]+$' || true); do
  p=${ns#crbench-?}
  kill -0 "$p" 2>/dev/null && continue
  for q in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$q" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
done
for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E '^crbf[0-9]+$' || true); do
  kill -0 "${l#crbf}" 2>/dev/null || ip link del "$l" 2>/dev/null || true
done
if ip -4 route show | grep -q '^10\.254\.'; then
  echo "bench/egress.sh: 10.254.0.0/16 is already routed on this host (a conformance run or another" \
    "benchmark?); runs must not overlap:" >&2
  ip -4 route show | grep '^10\.254\.' >&2
  exit 1
fi

work=$(mktemp -d /var/tmp/cleanroom-bench-egress.XXXXXX)
chmod 0711 "$work"
server="" server_host="" sid="" fixture=""

stop_server() {
  [ -n "$server" ] || return 0
  [ -n "$sid" ] && "$cleanroom" sandbox rm "$sid" --host "$server_host" >/dev/null 2>&1
  sid=""
  kill -TERM "$server" 2>/dev/null
  wait "$server" 2>/dev/null
  server=""
}

cleanup() {
  set +e
  stop_server
  [ -n "$fixture" ] && { kill -TERM "$fixture" 2>/dev/null; wait "$fixture" 2>/dev/null; }
  for ns in "$cl" "$fx"; do
    for q in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$q" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  ip link del "$hl" 2>/dev/null
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- the fixture internet ---------------------------------------------------------
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem \
  -days 2 -subj "/CN=cleanroom bench test CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key -out srv.csr \
  -subj "/CN=$name" 2>/dev/null
printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$name" >srv.ext
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out srv.pem \
  -extfile srv.ext 2>/dev/null
chmod 0644 ca.pem
head -c 100000000 /dev/urandom >100M

cat >fixture.py <<'PY'
# The bench's fixture servers: DNS (bench.test), HTTP :80 /small, HTTPS :443 /100M.
import os, socket, socketserver, ssl, sys, threading
from http.server import BaseHTTPRequestHandler
from dnslib import A, QTYPE, RCODE, RR
from dnslib.server import BaseResolver, DNSLogger, DNSServer

work, name, srv_addr, dns_addr = sys.argv[1:5]
SMALL = b"x" * 256
BIG = os.path.join(work, "100M")


class Zone(BaseResolver):
    def resolve(self, request, handler):
        reply = request.reply()
        if str(request.q.qname).rstrip(".").lower() != name:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.A:
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(srv_addr), ttl=300))
        return reply


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/small":  # head and body in one write
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                             b"Connection: close\r\n\r\n%s" % (len(SMALL), SMALL))
        elif self.path == "/100M":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(os.path.getsize(BIG)))
            self.send_header("Connection", "close")
            self.end_headers()
            with open(BIG, "rb") as f:
                while chunk := f.read(1 << 18):
                    self.wfile.write(chunk)
        else:
            self.send_error(404)
        self.close_connection = True


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


http = Server((srv_addr, 80), Handler)
https = Server((srv_addr, 443), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(os.path.join(work, "srv.pem"), os.path.join(work, "srv.key"))
https.socket = ctx.wrap_socket(https.socket, server_side=True)
quiet = DNSLogger(logf=lambda *a: None)
for tcp in (False, True):
    DNSServer(Zone(), address=dns_addr, port=53, tcp=tcp, logger=quiet).start_thread()
for s in (http, https):
    threading.Thread(target=s.serve_forever, daemon=True).start()
open(os.path.join(work, "fixture.ready"), "w").close()
threading.Event().wait()
PY

ip netns add "$fx"
ip netns add "$cl"
ip link add "$hl" type veth peer name inet0 netns "$fx"
ip addr add "$host_addr/24" dev "$hl"
ip link set "$hl" up
ip route add 10.254.1.0/24 via "$fx_addr" dev "$hl"
ip -n "$fx" link set lo up
ip -n "$fx" addr add "$fx_addr/24" dev inet0
ip -n "$fx" addr add "$srv_addr/32" dev inet0
ip -n "$fx" addr add "$dns_addr/32" dev inet0
ip -n "$fx" link set inet0 up
ip -n "$fx" link add cli0 type veth peer name eth0 netns "$cl"
ip -n "$fx" addr add "$fxcl_addr/24" dev cli0
ip -n "$fx" link set cli0 up
ip -n "$cl" link set lo up
ip -n "$cl" addr add "$cl_addr/24" dev eth0
ip -n "$cl" link set eth0 up
ip -n "$cl" route add 10.254.1.0/24 via "$fxcl_addr"
ip netns exec "$fx" "$py" fixture.py "$work" "$name" "$srv_addr" "$dns_addr" 2>fixture.err &
fixture=$!
for _ in $(seq 100); do [ -e fixture.ready ] && break; sleep 0.05; done
[ -e fixture.ready ] || { echo "bench/egress.sh: the fixture did not start:" >&2; cat fixture.err >&2; exit 1; }

# ---- servers --------------------------------------------------------------------
start_server() { # DIR [serve options...]
  local d="$work/$1"
  shift
  mkdir -p "$d"
  server_host="unix://$d/run/cleanroom.sock"
  "$cleanroom" serve --socket "$d/run/cleanroom.sock" --state-dir "$d/state" "$@" >"$d/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 300); do
    if ! kill -0 "$server" 2>/dev/null; then
      echo "bench/egress.sh: cleanroom serve $* exited:" >&2
      cat "$d/serve.log" >&2
      exit 1
    fi
    [ -S "$d/run/cleanroom.sock" ] && "$cleanroom" status --host "$server_host" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "bench/egress.sh: cleanroom serve did not answer within 15 s" >&2
  cat "$d/serve.log" >&2
  exit 1
}

mkdir -p ws pol
cp ca.pem ws/
cp "$repo/bench/egress_client.py" ws/
printf 'version: 1\nsandbox:\n  network:\n    default: deny\n    allow:\n      - host: %s\n' "$name" \
  >pol/cleanroom.yaml
start_server egress --egress-resolver "$dns_addr" --egress-pool "$pool"
grep -q 'egress enforcement on' "$work/egress/serve.log" || {
  echo "bench/egress.sh: the server started without egress (another server owns it?):" >&2
  cat "$work/egress/serve.log" >&2
  exit 1
}
"$cleanroom" exec --host "$server_host" -c "$work/pol/cleanroom.yaml" --workspace "$work/ws" --keep \
  --json -- true >created.json 2>created.err || { cat created.err >&2; exit 1; }
sid=$("$py" -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["sandbox_id"])' \
  created.json)
gw=$(pgrep -f -- "__gateway --sandbox-id $sid " | head -n 1)
[ -n "$gw" ] || { echo "bench/egress.sh: no gateway process for $sid" >&2; exit 1; }

in_sandbox() {
  "$cleanroom" exec --host "$server_host" --sandbox-id "$sid" --no-workspace -- "$@" && return 0
  echo "bench/egress.sh: '$*' failed in the sandbox. If its network is gone (no crsb* link, an empty" \
    "table inet cleanroom), another cleanroom serve in the host's network namespace took over egress" >&2
  return 1
}
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }       # jiffies all cores spent busy
proc_cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }             # utime+stime of one process
in_direct() { ip netns exec "$cl" "$@"; }
in_host() { "$@"; }

# ---- 1. throughput ------------------------------------------------------------------
fmt='%{http_code} %{size_download} %{speed_download} %{time_total}\n'
download() { # WHERE: one 100 MB download, prints "code bytes bytes/s seconds busy-jiffies"
  local b0 b1 line
  b0=$(busy)
  line=$(case $1 in
    sandbox) in_sandbox curl -sS --noproxy '*' --cacert /workspace/ca.pem -o /dev/null -w "$fmt" \
      "https://$name/100M" ;;
    *) "in_$1" curl -sS --cacert "$work/ca.pem" --resolve "$name:443:$srv_addr" -o /dev/null -w "$fmt" \
      "https://$name/100M" ;;
  esac)
  b1=$(busy)
  echo "$line $((b1 - b0))"
}
echo "throughput: $runs downloads of 100 MB each, direct / sandbox / host, alternating" >&2
for where in direct sandbox host; do download "$where" >/dev/null; done # warm-up (caches, DNS)
gw0=$(proc_cpu "$gw")
for _ in $(seq "$runs"); do
  for where in direct sandbox host; do download "$where" >>"tp-$where.txt"; done
done
echo "$(($(proc_cpu "$gw") - gw0))" >gw-jiffies.txt

# ---- 2. time to first byte ------------------------------------------------------------
echo "time to first byte: 1000 requests, new connection each, direct / sandbox / host" >&2
in_direct "$py" "$repo/bench/egress_client.py" "$name" "$srv_addr" 80 /small 1000 >ttfb-direct.json
in_sandbox /usr/bin/python3 /workspace/egress_client.py "$name" - 80 /small 1000 >ttfb-sandbox.json
in_host "$py" "$repo/bench/egress_client.py" "$name" "$srv_addr" 80 /small 1000 >ttfb-host.json

# ---- 3. create + exec, egress on vs off -----------------------------------------------------
mkdir -p "$repo/bench/results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out_on="$repo/bench/results/egress-on-$stamp.json" out_off="$repo/bench/results/egress-off-$stamp.json"
# the deny-all policy: accepted by both servers (allow rules need a server with egress)
mkdir -p p3
printf 'version: 1\nsandbox:\n  network:\n    default: deny\n' >p3/cleanroom.yaml
cd p3
"$cleanroom" exec --host "$server_host" --no-workspace --json -- true >"$work/timings-on.json"
hyperfine --style basic --runs "$runs" --warmup 3 --export-json "$out_on" \
  -n "exec, egress on" "$cleanroom exec --host $server_host --no-workspace -- true" >&2
stop_server
start_server noegress --no-egress
"$cleanroom" exec --host "$server_host" --no-workspace --json -- true >"$work/timings-off.json"
hyperfine --style basic --runs "$runs" --warmup 3 --export-json "$out_off" \
  -n "exec, --no-egress" "$cleanroom exec --host $server_host --no-workspace -- true" >&2
stop_server
cd "$work"

# ---- report ------------------------------------------------------------------------------
"$py" - "$work" "$out_on" "$out_off" <<'PY'
import json, os, platform, statistics, sys
work, on, off = sys.argv[1:4]

def downloads(where):
    rows = [line.split() for line in open(os.path.join(work, f"tp-{where}.txt"))]
    for code, size, *_ in rows:
        if code != "200" or int(size) != 100_000_000:
            sys.exit(f"{where}: a download answered {code} with {size} bytes")
    return [float(r[2]) / 1e6 for r in rows], [int(r[4]) / hz for r in rows]

hz = os.sysconf("SC_CLK_TCK")
tp, cpu_s = {}, {}
for w in ("direct", "sandbox", "host"):
    tp[w], cpu_s[w] = downloads(w)
gw_cpu = int(open(os.path.join(work, "gw-jiffies.txt")).read()) / hz / len(tp["sandbox"])
timings = {k: json.loads(open(os.path.join(work, f"timings-{k}.json")).read().strip().splitlines()[-1])
           .get("timings_ms") or {} for k in ("on", "off")}
ttfb = {w: json.load(open(os.path.join(work, f"ttfb-{w}.json"))) for w in ("direct", "sandbox", "host")}
ex = {"on": json.load(open(on))["results"][0], "off": json.load(open(off))["results"][0]}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))) / 2**20
print(f"machine: {platform.node()}, kernel {platform.release()}, {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB")
print()
labels = {"direct": "direct: plain netns, veth to the fixture",
          "sandbox": "sandbox: through the gateway (transparent proxy)",
          "host": "host netns (the gateway's upstream path), reference"}
d = statistics.median(tp["direct"])
print(f"| 100 MB HTTPS download, {len(tp['direct'])} runs each | median MB/s | min | max | ratio to direct "
      "| CPU s (all cores) per download |")
print("|---|---:|---:|---:|---:|---:|")
for w in ("direct", "sandbox", "host"):
    m = statistics.median(tp[w])
    print(f"| {labels[w]} | {m:.0f} | {min(tp[w]):.0f} | {max(tp[w]):.0f} | {m / d:.2f}x | "
          f"{statistics.median(cpu_s[w]):.2f} |")
print(f"\nthe gateway process itself: {gw_cpu * 1000:.0f} ms CPU per download (user + system)")
print()
print("| TTFB, 1000 HTTP requests, new connection each | p50 (ms) | p90 (ms) | p99 (ms) | added p50 | added p99 |")
print("|---|---:|---:|---:|---:|---:|")
for w in ("direct", "sandbox", "host"):
    t, b = ttfb[w], ttfb["direct"]
    print(f"| {labels[w]} | {t['p50']:.3f} | {t['p90']:.3f} | {t['p99']:.3f} | "
          f"{t['p50'] - b['p50']:+.3f} | {t['p99'] - b['p99']:+.3f} |")
print()
print("| `cleanroom exec --no-workspace -- true` | median (ms) | mean ± sd (ms) | ratio |")
print("|---|---:|---:|---:|")
for k, label in (("on", "egress on (veth, firewall chains, gateway)"), ("off", "`serve --no-egress`")):
    r = ex[k]
    print(f"| {label} | {r['median'] * 1000:.1f} | {r['mean'] * 1000:.1f} ± {r['stddev'] * 1000:.1f} | "
          f"{r['median'] / ex['off']['median']:.2f}x |")
print()
print("one `exec --json` run each, timings_ms:", json.dumps(timings))
PY
