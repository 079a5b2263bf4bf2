#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: the gateway's npm front and content cache (issue 7), side by side
# with Verdaccio serving the same packages from its own cache, in one run.
#   1. `npm ci` of a ~200-package project (package-lock.json with resolved
#      URLs and sha512 integrity) inside cleanroom sandboxes through the npm
#      front: cold (the server's cache directory empty) vs warm (same server
#      cache, a fresh sandbox, a fresh npm cache), RUNS times each,
#      alternating; then the same installs in sandboxes against Verdaccio
#      (reached through the transparent proxy), cold (empty storage) and warm;
#   2. warm latency of `-/ping` (each server's floor), tarballs and
#      packuments (abbreviated and full), LAT_N requests each, p50/p90/p99:
#      bench/registry_client.py inside a sandbox against the front (lockfile
#      policy, and a policy without lockfile whose packuments keep every
#      version), and the same client against Verdaccio from a plain network
#      namespace (its best case: no proxy, no firewall) and from a sandbox
#      through the transparent proxy; one keep-alive connection (as npm) and
#      a new connection per request. The fixture's request log shows that no
#      warm phase reached the upstream.
# Everything runs on a fixture "internet" made here, nothing touches the
# host's own network namespace (ideas from tests/integration/registry_fixture.py):
#   netns crbreg-s<pid>: the `cleanroom serve` with egress (so another egress
#     server on the host does not matter), its gateways and sandboxes;
#     10.251.0.1/24 <-veth-> 10.251.0.2/24 in
#   netns crbreg-n<pid>: DNS 10.251.1.53 for *.test, npm.registry.test
#     10.251.1.10 (HTTPS, test CA; bench/registry_fixture.py), Verdaccio
#     10.251.1.20:4873 (uplink https://npm.registry.test/); 10.251.2.1/24
#     <-veth-> 10.251.2.2/24 in
#   netns crbreg-c<pid>: a plain client of Verdaccio (no firewall, no proxy).
# Egress pool 10.213.128.0/20 (inside the server's namespace). Namespaces,
# servers and the work directory are always removed, also after a failure.
#
# Usage (as root): bench/registry.sh [RUNS]   (default 5: installs of each kind)
# Environment: LAT_N (default 2000) requests per latency measurement;
#   VERDACCIO_DIR (default bench/results/verdaccio) where Verdaccio is
#   installed with npm; VERDACCIO_VERSION (default 6.8.0: 6.9 and later
#   need Node.js 22); NPKG (default 200) packages; UPSTREAM_DELAY_MS (default 0)
#   the fixture registry waits before each answer (a distant upstream);
#   PERF_DIR (a diagnosis switch, default unset): `perf record -a -g` of each
#   measured keep-alive phase against the front into PERF_DIR/<where>-<kind>.data.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

runs=${1:-5}
lat_n=${LAT_N:-2000}
npkg=${NPKG:-200}
upstream_delay=${UPSTREAM_DELAY_MS:-0}
verd_dir=${VERDACCIO_DIR:-$repo/bench/results/verdaccio}
verd_version=${VERDACCIO_VERSION:-6.8.0}
me=bench/registry.sh
[ "$(id -u)" = 0 ] || { echo "$me: run as root (network namespaces, veth, a server with egress)" >&2; exit 1; }
py=/usr/bin/python3 # Debian's: it has dnslib (the pyenv one on PATH does not)
for tool in ip nft curl openssl npm node "$py"; do
  command -v "$tool" >/dev/null || { echo "$me: needs $tool" >&2; exit 1; }
done
"$py" -c 'import dnslib' 2>/dev/null || { echo "$me: needs python3-dnslib for $py" >&2; exit 1; }
. bench/common.sh
bench_setup
unset http_proxy https_proxy no_proxy all_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY ALL_PROXY
for v in $(env | sed -n 's/^\(npm_[A-Za-z_]*\)=.*/\1/p; s/^\(NODE_OPTIONS\)=.*/\1/p'); do unset "$v"; done

# ---- Verdaccio, installed once into a bench-local directory -----------------------------
verdaccio=""
verd_note=""
if [ "$(node "$verd_dir/node_modules/verdaccio/bin/verdaccio" --version 2>/dev/null)" != "v$verd_version" ]; then
  echo "$me: installing Verdaccio $verd_version into $verd_dir (npm)" >&2
  mkdir -p "$verd_dir"
  # node-fetch is pinned because verdaccio-audit asks for its `cjs` dist-tag,
  # which registries without that tag cannot resolve
  printf '{"name": "cleanroom-bench-verdaccio", "private": true, "dependencies": {"verdaccio": "%s"},\n "overrides": {"node-fetch": "2.7.0"}}\n' \
    "$verd_version" >"$verd_dir/package.json"
  rm -rf "$verd_dir/node_modules" "$verd_dir/package-lock.json"
  (cd "$verd_dir" && timeout 600 npm install --no-audit --no-fund --loglevel=error) >"$verd_dir/install.log" 2>&1 || true
fi
if v=$(node "$verd_dir/node_modules/verdaccio/bin/verdaccio" --version 2>&1); then
  verdaccio="$verd_dir/node_modules/verdaccio/bin/verdaccio"
  verd_version=$v
else
  why=$(grep -m 1 'npm error' "$verd_dir/install.log" 2>/dev/null || true)
  [ -n "$why" ] || why=$(printf '%s\n' "$v" | grep -m 1 -i 'error' || true)
  verd_note="Verdaccio $verd_version could not be installed or run (${why:-see $verd_dir/install.log});"
  verd_note="$verd_note only cleanroom's numbers are reported"
  verd_version=""
  echo "$me: $verd_note" >&2
fi

# ---- names and addresses -------------------------------------------------------------
ns_s="crbreg-s$$" ns_n="crbreg-n$$" ns_c="crbreg-c$$"
srv_link=10.251.0.1 net_link=10.251.0.2
dns_addr=10.251.1.53 npm_addr=10.251.1.10 verd_addr=10.251.1.20
cl_addr=10.251.2.2 fxcl_addr=10.251.2.1
pool=10.213.128.0/20
npm_host=npm.registry.test verd_host=verdaccio.registry.test

# leftovers of an earlier run that died (its pid is gone)
for ns in $(ip netns list | awk '{print $1}' | grep -E '^crbreg-[snc][0-9]+$' || true); do
  p=${ns#crbreg-?}
  kill -0 "$p" 2>/dev/null && continue
  for q in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$q" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
done
for d in /var/tmp/crbreg-*; do
  [ -d "$d" ] || continue
  p=${d#/var/tmp/crbreg-}
  p=${p%%-*}
  [[ $p =~ ^[0-9]+$ ]] && ! kill -0 "$p" 2>/dev/null && rm -rf --one-file-system "$d"
done

work=$(mktemp -d "/var/tmp/crbreg-$$-XXXXXX")
chmod 0711 "$work"
# a copy of the binary: a rebuild in build/ during the run must not change it
mkdir -m 0755 "$work/bin"
install -m 0755 "$repo/build/src/cli/cleanroom" "$work/bin/cleanroom"
cleanroom="$work/bin/cleanroom"
server="" host="" sid="" sid_open="" sid_verd="" fixture="" verd=""

stop_server() {
  [ -n "$server" ] || return 0
  for id in $sid $sid_open $sid_verd; do "$cleanroom" sandbox rm "$id" --host "$host" >/dev/null 2>&1 || true; done
  sid="" sid_open="" sid_verd=""
  kill -TERM "$server" 2>/dev/null
  wait "$server" 2>/dev/null || true
  server=""
}

stop_verdaccio() {
  [ -n "$verd" ] || return 0
  kill -TERM "$verd" 2>/dev/null
  wait "$verd" 2>/dev/null || true
  verd=""
}

cleanup() {
  set +e
  stop_server
  stop_verdaccio
  [ -n "$fixture" ] && { kill -TERM "$fixture" 2>/dev/null; wait "$fixture" 2>/dev/null; }
  for ns in "$ns_s" "$ns_c" "$ns_n"; do
    for q in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$q" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- the fixture registry ---------------------------------------------------------------
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem \
  -days 2 -subj "/CN=cleanroom registry bench CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key -out srv.csr \
  -subj "/CN=$npm_host" 2>/dev/null
printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$npm_host" >srv.ext
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out srv.pem \
  -extfile srv.ext 2>/dev/null
chmod 0644 ca.pem
"$py" "$repo/bench/registry_fixture.py" generate "$work/fx" "$npkg" 2>gen.txt
cat gen.txt >&2
touch fixture.log
printf '{"log": "%s", "root": "%s", "zone": "test", "dns_addr": "%s", "https_addr": "%s", "cert": "%s",
 "key": "%s", "records": {"%s": "%s", "%s": "%s"}, "delay_ms": %d}\n' "$work/fixture.log" "$work/fx/registry" \
  "$dns_addr" "$npm_addr" "$work/srv.pem" "$work/srv.key" "$npm_host" "$npm_addr" "$verd_host" "$verd_addr" \
  "$upstream_delay" >fixture.json

ip netns add "$ns_s"
ip netns add "$ns_n"
ip netns add "$ns_c"
ip -n "$ns_s" link add up0 type veth peer name dn0 netns "$ns_n"
ip -n "$ns_s" link set lo up
ip -n "$ns_s" addr add "$srv_link/24" dev up0
ip -n "$ns_s" link set up0 up
ip -n "$ns_s" route add 10.251.1.0/24 via "$net_link" dev up0
ip -n "$ns_n" link set lo up
ip -n "$ns_n" addr add "$net_link/24" dev dn0
for a in "$dns_addr" "$npm_addr" "$verd_addr"; do ip -n "$ns_n" addr add "$a/32" dev dn0; done
ip -n "$ns_n" link set dn0 up
ip -n "$ns_n" route add default via "$srv_link"
ip -n "$ns_n" link add cl0 type veth peer name eth0 netns "$ns_c"
ip -n "$ns_n" addr add "$fxcl_addr/24" dev cl0
ip -n "$ns_n" link set cl0 up
ip -n "$ns_c" link set lo up
ip -n "$ns_c" addr add "$cl_addr/24" dev eth0
ip -n "$ns_c" link set eth0 up
ip -n "$ns_c" route add 10.251.1.0/24 via "$fxcl_addr"

coproc FX { exec ip netns exec "$ns_n" "$py" "$repo/bench/registry_fixture.py" serve "$work/fixture.json" 2>"$work/fixture.err"; }
fixture=$FX_PID
read -r -t 30 line <&"${FX[0]}" || line=""
[ "$line" = ready ] || { echo "$me: the fixture registry did not start:" >&2; cat fixture.err >&2; exit 1; }
in_client() { ip netns exec "$ns_c" "$@"; }
in_client curl -sSf --cacert ca.pem --resolve "$npm_host:443:$npm_addr" -o /dev/null "https://$npm_host/crb-pkg-000" ||
  { echo "$me: the fixture registry does not answer" >&2; exit 1; }
upstream_mark() { wc -l <"$work/fixture.log"; }

# ---- Verdaccio --------------------------------------------------------------------------
start_verdaccio() { # fresh storage
  [ -n "$verdaccio" ] || return 0
  rm -rf "$work/verdaccio/storage"
  mkdir -p "$work/verdaccio/storage"
  cat >"$work/verdaccio/config.yaml" <<EOF
storage: $work/verdaccio/storage
auth:
  htpasswd:
    file: $work/verdaccio/htpasswd
    max_users: -1
uplinks:
  fixture:
    url: https://$npm_host/
    maxage: 60m
    cache: true
    timeout: 30s
    agent_options:
      keepAlive: true
      maxSockets: 40
packages:
  '@*/*':
    access: \$all
    publish: \$authenticated
    proxy: fixture
  '**':
    access: \$all
    publish: \$authenticated
    proxy: fixture
server:
  keepAliveTimeout: 60
web:
  enable: false
middlewares:
  audit:
    enabled: false
log: { type: stdout, format: pretty, level: warn }
EOF
  printf 'nameserver %s\n' "$dns_addr" >"$work/verdaccio/resolv.conf"
  # the fixture's DNS for Node (a bind mount in ip netns exec's own mount namespace)
  ip netns exec "$ns_n" sh -c 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' sh \
    "$work/verdaccio/resolv.conf" env NODE_EXTRA_CA_CERTS="$work/ca.pem" HOME="$work/verdaccio" \
    node "$verdaccio" --config "$work/verdaccio/config.yaml" --listen "http://$verd_addr:4873" \
    >>"$work/verdaccio/log" 2>&1 &
  verd=$!
  for _ in $(seq 300); do
    kill -0 "$verd" 2>/dev/null || { echo "$me: Verdaccio exited:" >&2; cat "$work/verdaccio/log" >&2; exit 1; }
    in_client curl -sf -o /dev/null "http://$verd_addr:4873/-/ping" && return 0
    sleep 0.1
  done
  echo "$me: Verdaccio did not answer within 30 s" >&2
  cat "$work/verdaccio/log" >&2
  exit 1
}

# ---- the server (in its own network namespace) -----------------------------------------------
nstart=0
start_server() { # a fresh, empty cache directory each time
  nstart=$((nstart + 1))
  local log="$work/serve-$nstart.log"
  rm -rf "$work/cache"
  host="unix://$work/run/cleanroom.sock"
  ip netns exec "$ns_s" "$cleanroom" serve --socket "$work/run/cleanroom.sock" --state-dir "$work/state" \
    --egress-resolver "$dns_addr" --egress-pool "$pool" --upstream-cacert "$work/ca.pem" \
    --cache-dir "$work/cache" >"$log" 2>&1 &
  server=$!
  for _ in $(seq 300); do
    if ! kill -0 "$server" 2>/dev/null; then
      echo "$me: cleanroom serve exited:" >&2
      cat "$log" >&2
      exit 1
    fi
    if [ -S "$work/run/cleanroom.sock" ] && "$cleanroom" status --host "$host" >/dev/null 2>&1; then
      grep -q 'egress enforcement on' "$log" && return 0
      echo "$me: the server started without egress (its own network namespace $ns_s should" \
        "allow it):" >&2
      cat "$log" >&2
      exit 1
    fi
    sleep 0.05
  done
  echo "$me: cleanroom serve did not answer within 15 s" >&2
  cat "$log" >&2
  exit 1
}

# the project's workspace: policy, package.json, package-lock.json, check.js
mkdir -p ws
cp fx/project/* ws/
cat >ws/cleanroom.yaml <<EOF
version: 1
sandbox:
  network:
    default: deny
registries:
  npm:
    enable: true
    allowed_hosts: [$npm_host]
    fallback: deny
    lockfile_enforcement:
      enabled: true
      mode: deny_unknown
      lockfiles: [package-lock.json]
EOF
cp fx/items.json "$repo/bench/registry_client.py" ws/
# npm ci and the latency client in a sandbox against Verdaccio, through the transparent proxy
mkdir -p ws-verd
cp fx/project/* fx/items.json "$repo/bench/registry_client.py" ws-verd/
cat >ws-verd/cleanroom.yaml <<EOF
version: 1
sandbox:
  network:
    default: deny
    allow:
      - host: $verd_host
        ports: [4873]
EOF
# for the latency of packuments without lockfile filtering (every version, as Verdaccio serves them)
mkdir -p ws-open
cp fx/items.json "$repo/bench/registry_client.py" ws-open/
cat >ws-open/cleanroom.yaml <<EOF
version: 1
sandbox:
  network:
    default: deny
registries:
  npm:
    enable: true
    allowed_hosts: [$npm_host]
    fallback: allow
EOF

# one npm ci with a fresh npm cache in DIR; prints @@t0/@@t1 (ns) around it, @@ci, @@installed
ci_script() { # DIR (npm cache and log)
  cat <<EOF
export npm_config_cache=$1/npm-cache npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
export npm_config_progress=false npm_config_loglevel=warn npm_config_fetch_retries=0
rm -rf $1/npm-cache node_modules
t0=\$(date +%s%N); npm ci >$1/ci.log 2>&1; rc=\$?; t1=\$(date +%s%N)
echo "@@t0=\$t0"; echo "@@t1=\$t1"; echo "@@ci=\$rc"
[ \$rc = 0 ] || tail -n 40 $1/ci.log
node check.js
EOF
}

marker() { sed -n "s/^@@$1=//p" "$2" | tail -n 1; }

record_install() { # WHERE KIND OUTFILE EXEC_MS UPSTREAM_REQUESTS
  local ci t0 t1 n
  ci=$(marker ci "$3") t0=$(marker t0 "$3") t1=$(marker t1 "$3") n=$(marker installed "$3")
  if [ "$ci" != 0 ] || [ "$n" != "$npkg" ]; then
    echo "$me: $1 $2 npm ci failed (exit ${ci:-?}, ${n:-0} of $npkg packages installed):" >&2
    cat "$3" >&2
    exit 1
  fi
  echo "$1 $2 $(((t1 - t0) / 1000)) $4 $5" >>"$work/installs.txt"
}

install_sandbox() { # WHERE (cleanroom|verdaccio) KIND (cold|warm)
  local m0 m1 s0 s1 ws=ws env=()
  if [ "$1" = verdaccio ]; then
    [ -n "$verdaccio" ] || return 0
    ws=ws-verd env=(-e "npm_config_registry=http://$verd_host:4873/")
  fi
  m0=$(upstream_mark)
  s0=$(date +%s%N)
  (cd "$ws" && "$cleanroom" exec --host "$host" --timeout 600s --workspace "$work/$ws" "${env[@]}" -- \
    "$(ci_script /tmp)") >"$work/ci.out" 2>&1 || true
  s1=$(date +%s%N)
  m1=$(upstream_mark)
  record_install "$1" "$2" "$work/ci.out" $(((s1 - s0) / 1000)) $((m1 - m0))
}

# ---- 1. cold vs warm npm ci --------------------------------------------------------------
echo "npm ci of $npkg packages: $runs x (cold, warm) in sandboxes through the front${verdaccio:+," \
  "then $runs x (cold, warm) against Verdaccio}" >&2
: >installs.txt
for r in $(seq "$runs"); do
  stop_server
  start_server # empty cache
  install_sandbox cleanroom cold
  install_sandbox cleanroom warm
  echo "  run $r: $(tail -n 2 installs.txt | awk '{printf "%s %.2f s  ", $2, $3 / 1e6}')" >&2
done
if [ -n "$verdaccio" ]; then
  for r in $(seq "$runs"); do
    stop_verdaccio
    start_verdaccio # empty storage
    install_sandbox verdaccio cold
    install_sandbox verdaccio warm
    echo "  Verdaccio run $r: $(tail -n 2 installs.txt | awk '{printf "%s %.2f s  ", $2, $3 / 1e6}')" >&2
  done
fi

# ---- 2. warm latency --------------------------------------------------------------------------
keep_sandbox() { # WORKSPACE: a kept sandbox's id
  (cd "$work/$1" && "$cleanroom" exec --host "$host" --workspace "$work/$1" --keep --json -- true) \
    >"$work/created.json" 2>"$work/created.err" || { cat "$work/created.err" >&2; exit 1; }
  "$py" -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["sandbox_id"])' \
    "$work/created.json"
}
sid=$(keep_sandbox ws)
sid_open=$(keep_sandbox ws-open)
sid_verd=$(keep_sandbox ws-verd)
in_sandbox() { # ID COMMAND
  local id=$1
  shift
  "$cleanroom" exec --host "$host" --sandbox-id "$id" --no-workspace -- "$@"
}
lat() { # WHERE KIND MODE: a warm-up pass over every item, then LAT_N measured requests
  local where=$1 kind=$2 mode=$3 flag="" m0 m1 out="$work/lat-$1-$2-$3.json"
  [ "$mode" = close ] && flag=--close
  case $where in
  cleanroom | cleanroom-open)
    local id=$sid
    [ "$where" = cleanroom-open ] && id=$sid_open
    in_sandbox "$id" "/usr/bin/python3 /workspace/registry_client.py \"\$npm_config_registry\" /workspace/items.json $kind 0 --warm-only $flag" >/dev/null
    m0=$(upstream_mark)
    local perf_pid=""
    if [ -n "${PERF_DIR:-}" ] && [ "$mode" = keep-alive ]; then # diagnosis: where the time goes
      perf record -a -g -o "$PERF_DIR/$where-$kind.data" >/dev/null 2>&1 &
      perf_pid=$!
    fi
    in_sandbox "$id" "/usr/bin/python3 /workspace/registry_client.py \"\$npm_config_registry\" /workspace/items.json $kind $lat_n $flag" >"$out.tmp"
    [ -z "$perf_pid" ] || { kill -INT "$perf_pid"; wait "$perf_pid" || true; }
    ;;
  verdaccio)
    in_client "$py" "$repo/bench/registry_client.py" "http://$verd_addr:4873" fx/items.json "$kind" 0 --warm-only $flag >/dev/null
    m0=$(upstream_mark)
    in_client "$py" "$repo/bench/registry_client.py" "http://$verd_addr:4873" fx/items.json "$kind" "$lat_n" $flag >"$out.tmp"
    ;;
  verdaccio-sandbox)
    in_sandbox "$sid_verd" "/usr/bin/python3 /workspace/registry_client.py http://$verd_host:4873 /workspace/items.json $kind 0 --warm-only $flag" >/dev/null
    m0=$(upstream_mark)
    in_sandbox "$sid_verd" "/usr/bin/python3 /workspace/registry_client.py http://$verd_host:4873 /workspace/items.json $kind $lat_n $flag" >"$out.tmp"
    ;;
  esac
  m1=$(upstream_mark)
  "$py" -c 'import json,sys; d=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); d["upstream_requests"]=int(sys.argv[2]); print(json.dumps(d))' \
    "$out.tmp" $((m1 - m0)) >"$out"
}
echo "warm latency: $lat_n requests per kind and mode, sandbox -> front${verdaccio:+, plain netns and sandbox -> Verdaccio}" >&2
for kind in ping tarball packument packument-full; do
  for mode in keep-alive close; do
    lat cleanroom "$kind" "$mode"
    case $kind in packument*) lat cleanroom-open "$kind" "$mode" ;; esac
    if [ -n "$verdaccio" ]; then
      lat verdaccio "$kind" "$mode"
      lat verdaccio-sandbox "$kind" "$mode"
    fi
  done
done
"$cleanroom" cache stats --cache-dir "$work/cache" --json >cache-stats.json 2>/dev/null || true
stop_server
stop_verdaccio

# ---- report -------------------------------------------------------------------------------
mkdir -p "$repo/bench/results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
"$py" - "$work" "$repo/bench/results/registry-$stamp.json" "$runs" "$lat_n" "${verd_version}" "$verd_note" "$upstream_delay" <<'PY'
import json, os, platform, statistics, subprocess, sys
work, out, runs, lat_n, verd_version, verd_note, delay = sys.argv[1:8]
rows = [l.split() for l in open(os.path.join(work, "installs.txt"))]
inst = {}
for where, kind, ci_us, exec_us, upstream in rows:
    inst.setdefault((where, kind), []).append((int(ci_us) / 1e6, int(exec_us) / 1e6, int(upstream)))
lat = {}
for where in ("cleanroom", "cleanroom-open", "verdaccio", "verdaccio-sandbox"):
    for kind in ("ping", "tarball", "packument", "packument-full"):
        for mode in ("keep-alive", "close"):
            p = os.path.join(work, f"lat-{where}-{kind}-{mode}.json")
            if os.path.exists(p):
                lat[(where, kind, mode)] = json.load(open(p))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))) / 2**20
load = open("/proc/loadavg").read().split()[:3]
node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
npm = subprocess.run(["npm", "--version"], capture_output=True, text=True).stdout.strip()
gen = open(os.path.join(work, "gen.txt")).read().strip()
print(f"machine: {platform.node()}, kernel {platform.release()}, {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, "
      f"load average at the end {' '.join(load)}; node {node}, npm {npm}, Verdaccio {verd_version or '-'}")
print(f"fixture: {gen}; the upstream answers after {delay} ms")
if verd_note:
    print(f"NOTE: {verd_note}")
print()
labels = {("cleanroom", "cold"): "sandbox via the front, cold (empty server cache)",
          ("cleanroom", "warm"): "sandbox via the front, warm (same cache, fresh sandbox)",
          ("verdaccio", "cold"): "sandbox via Verdaccio (transparent proxy), cold (empty storage)",
          ("verdaccio", "warm"): "sandbox via Verdaccio (transparent proxy), warm (fresh sandbox)"}
print(f"| `npm ci`, {runs} runs each | median (s) | min-max (s) | whole `cleanroom exec` median (s) "
      "| upstream requests per install |")
print("|---|---:|---:|---:|---:|")
summary = {"installs": {}, "latency": {}}
for key, label in labels.items():
    if key not in inst:
        continue
    v = inst[key]
    ci = [x[0] for x in v]
    ex = statistics.median(x[1] for x in v)
    ups = sorted({x[2] for x in v})
    whole = f"{ex:.2f}"
    print(f"| {label} | {statistics.median(ci):.2f} | {min(ci):.2f}-{max(ci):.2f} | {whole} | "
          f"{'/'.join(map(str, ups))} |")
    summary["installs"]["-".join(key)] = {"npm_ci_s": ci, "whole_s": [x[1] for x in v], "upstream": [x[2] for x in v]}
print()
for where, what in (("cleanroom", "through the front"), ("verdaccio", "through Verdaccio")):
    if (where, "cold") in inst and (where, "warm") in inst:
        c = statistics.median(x[0] for x in inst[(where, "cold")])
        w = statistics.median(x[0] for x in inst[(where, "warm")])
        print(f"warm / cold {what}: {w / c:.2f} ({c / w:.2f}x faster warm)")
if ("cleanroom", "warm") in inst and ("verdaccio", "warm") in inst:
    c = statistics.median(x[0] for x in inst[("cleanroom", "warm")])
    v = statistics.median(x[0] for x in inst[("verdaccio", "warm")])
    print(f"warm npm ci, Verdaccio / front: {v / c:.2f}x")
print()
names = {"ping": "`-/ping` (floor: no lookup)", "tarball": "tarball", "packument": "packument, abbreviated", "packument-full": "packument, full"}
print(f"| warm, {lat_n} requests each | client | p50 (ms) | p90 (ms) | p99 (ms) | bytes/request | upstream requests |")
print("|---|---|---:|---:|---:|---:|---:|")
for kind in ("ping", "tarball", "packument", "packument-full"):
    for mode in ("keep-alive", "close"):
        for where, label in (("cleanroom", "sandbox -> gateway front (lockfile policy)"),
                             ("cleanroom-open", "sandbox -> gateway front (no lockfile: every version)"),
                             ("verdaccio", "plain netns -> Verdaccio"),
                             ("verdaccio-sandbox", "sandbox -> transparent proxy -> Verdaccio")):
            d = lat.get((where, kind, mode))
            if not d:
                continue
            conn = "keep-alive" if mode == "keep-alive" else "new connection each"
            print(f"| {names[kind]}, {conn} | {label} | {d['p50']:.3f} | {d['p90']:.3f} | {d['p99']:.3f} | "
                  f"{d['bytes_per_request']:.0f} | {d['upstream_requests']} |")
            summary["latency"][f"{where}-{kind}-{mode}"] = d
print()
verdict = []
if not any(k[0] == "verdaccio" for k in lat):
    verdict.append("warm tarball: no Verdaccio numbers to compare with (target >= 5x: not measured)")
for mode in ("keep-alive", "close"):
    c, v = lat.get(("cleanroom", "tarball", mode)), lat.get(("verdaccio", "tarball", mode))
    if c and v:
        r50, r99 = v["p50"] / c["p50"], v["p99"] / c["p99"]
        verdict.append(f"warm tarball ({mode}): Verdaccio / front = {r50:.2f}x at p50, {r99:.2f}x at p99 "
                       f"(target >= 5x: {'met' if r50 >= 5 else 'NOT met'} at p50)")
        vs_ = lat.get(("verdaccio-sandbox", "tarball", mode))
        if vs_:
            verdict.append(f"    against Verdaccio from a sandbox (through the transparent proxy): "
                           f"{vs_['p50'] / c['p50']:.2f}x at p50")
        cp, vp = lat.get(("cleanroom", "ping", mode)), lat.get(("verdaccio", "ping", mode))
        if cp and vp:
            cs, vs = c["p50"] - cp["p50"], v["p50"] - vp["p50"]
            verdict.append(f"    above each server's own -/ping floor: front {cs:.3f} ms, Verdaccio {vs:.3f} ms "
                           f"({vs / cs:.2f}x); the floors: front {cp['p50']:.3f} ms, Verdaccio {vp['p50']:.3f} ms")
for kind in ("packument", "packument-full"):
    for mode in ("keep-alive", "close"):
        for where, what in (("cleanroom", "lockfile policy"), ("cleanroom-open", "no lockfile")):
            c = lat.get((where, kind, mode))
            if not c:
                continue
            ok = "met" if c["p99"] <= 5 else ("met at p50, not at p99" if c["p50"] <= 5 else "NOT met")
            line = (f"warm {names[kind]} ({mode}, {what}) through the front: p50 {c['p50']:.3f} ms, "
                    f"p99 {c['p99']:.3f} ms (target <= 5 ms: {ok})")
            v = lat.get(("verdaccio", kind, mode))
            if v:
                line += f"; Verdaccio / front {v['p50'] / c['p50']:.2f}x at p50"
            verdict.append(line)
print("\n".join(verdict))
try:
    stats = json.load(open(os.path.join(work, "cache-stats.json")))
    print("\ncache stats at the end:", json.dumps(stats))
except (OSError, ValueError):
    pass
json.dump(summary, open(out, "w"), indent=1)
print(f"\nraw numbers: {out}")
PY
