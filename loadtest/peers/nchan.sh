#!/usr/bin/env bash
# nginx + nchan comparison peer for the realtime load tests.
#
#   nchan.sh start PORT DIR   render nchan.conf.tmpl into DIR, start nginx (foreground mode,
#                             backgrounded), wait until 127.0.0.1:PORT answers, print the
#                             nginx master PID on stdout (nothing else goes to stdout)
#   nchan.sh stop DIR         stop exactly the instance whose pid file is DIR/nginx.pid
#   nchan.sh check            exit 0 if nginx and the nchan module are installed
#
# Install (Debian 12):
#   apt-get update && apt-get install -y --no-install-recommends nginx-light libnginx-mod-nchan
#
# Environment: NGINX (nginx binary, default: from PATH or /usr/sbin/nginx),
#              NCHAN_MODULE (default /usr/lib/nginx/modules/ngx_nchan_module.so),
#              NCHAN_START_TIMEOUT (seconds, default 10), NCHAN_STOP_TIMEOUT (seconds, default 10).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TEMPLATE="$HERE/nchan.conf.tmpl"
NCHAN_MODULE="${NCHAN_MODULE:-/usr/lib/nginx/modules/ngx_nchan_module.so}"
START_TIMEOUT="${NCHAN_START_TIMEOUT:-10}"
STOP_TIMEOUT="${NCHAN_STOP_TIMEOUT:-10}"
APT_HINT="install with: apt-get update && apt-get install -y --no-install-recommends nginx-light libnginx-mod-nchan"

die() { echo "nchan.sh: $*" >&2; exit 1; }
usage() {
  echo "usage: $0 start PORT DIR | stop DIR | check" >&2
  exit 2
}

find_nginx() {
  if [[ -n "${NGINX:-}" ]]; then
    [[ -x "$NGINX" ]] || die "NGINX=$NGINX is not an executable; $APT_HINT"
    echo "$NGINX"; return
  fi
  local n
  n="$(command -v nginx 2>/dev/null || true)"
  [[ -z "$n" && -x /usr/sbin/nginx ]] && n=/usr/sbin/nginx
  [[ -n "$n" ]] || die "nginx not found (packages nginx-light/nginx); $APT_HINT"
  echo "$n"
}

check_install() {
  NGX="$(find_nginx)"
  [[ -f "$NCHAN_MODULE" ]] || die "nchan module not found at $NCHAN_MODULE (package libnginx-mod-nchan); $APT_HINT"
  [[ -f "$TEMPLATE" ]] || die "template not found: $TEMPLATE"
}

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# http_ok PORT: true when GET /healthz answers 200 (the port is ours, not someone else's).
http_ok() {
  local reply
  reply="$( (exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
             printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
             timeout 2 head -c 12 <&3) 2>/dev/null || true)"
  [[ "$reply" == "HTTP/1.1 200" ]]
}

pid_alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; }

# children_of PID: PIDs whose parent is PID (nginx workers of a master).
children_of() {
  local f ppid
  for f in /proc/[0-9]*/status; do
    ppid="$(sed -n 's/^PPid:[[:space:]]*//p' "$f" 2>/dev/null || true)"
    [[ "$ppid" == "$1" ]] && { f="${f#/proc/}"; echo "${f%/status}"; }
  done
  return 0
}

cmd_start() {
  local port="$1" dir="$2"
  [[ "$port" =~ ^[0-9]+$ ]] && (( port > 0 && port < 65536 )) || die "bad port: $port"
  check_install
  if port_open "$port"; then
    die "127.0.0.1:$port is already in use"
  fi
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if [[ -f "$dir/nginx.pid" ]] && pid_alive "$(cat "$dir/nginx.pid" 2>/dev/null || true)"; then
    die "an instance is already running from $dir (pid $(cat "$dir/nginx.pid")); stop it first"
  fi
  rm -f "$dir/nginx.pid"
  mkdir -p "$dir/logs" "$dir/tmp"

  # Render: only {{PORT}} and {{PREFIX}}; the module path is substituted too so that
  # NCHAN_MODULE can point somewhere else.
  local esc_dir esc_mod
  esc_dir="$(printf '%s' "$dir" | sed 's/[&|\\]/\\&/g')"
  esc_mod="$(printf '%s' "$NCHAN_MODULE" | sed 's/[&|\\]/\\&/g')"
  sed -e "s|{{PORT}}|$port|g" -e "s|{{PREFIX}}|$esc_dir|g" \
      -e "s|/usr/lib/nginx/modules/ngx_nchan_module.so|$esc_mod|g" \
      "$TEMPLATE" > "$dir/nginx.conf"

  if ! "$NGX" -t -q -p "$dir/" -c "$dir/nginx.conf" -g 'daemon off;' 2>"$dir/logs/configtest.log"; then
    cat "$dir/logs/configtest.log" >&2
    die "nginx rejected $dir/nginx.conf (see above)"
  fi

  # Foreground nginx (daemon off), put in the background by us: $! is the master's PID.
  # setsid: not in our process group, so a Ctrl-C on the caller's terminal does not hit it
  # and the caller's job control does not stop it; 'stop' ends it by its pid file.
  setsid "$NGX" -p "$dir/" -c "$dir/nginx.conf" -g 'daemon off;' \
      </dev/null >>"$dir/logs/stdout.log" 2>>"$dir/logs/stderr.log" &
  local pid=$!
  echo "$pid" > "$dir/master.pid"   # written by us at once; nginx writes nginx.pid itself

  local deadline=$(( $(date +%s) + START_TIMEOUT ))
  while :; do
    if ! pid_alive "$pid"; then
      wait "$pid" 2>/dev/null || true
      echo "--- $dir/logs/stderr.log" >&2; tail -n 20 "$dir/logs/stderr.log" >&2 || true
      echo "--- $dir/logs/error.log" >&2;  tail -n 20 "$dir/logs/error.log" >&2 || true
      die "nginx exited during start-up"
    fi
    if [[ -s "$dir/nginx.pid" ]] && http_ok "$port"; then
      break
    fi
    if (( $(date +%s) >= deadline )); then
      kill -TERM "$pid" 2>/dev/null || true
      die "nginx did not answer on 127.0.0.1:$port within ${START_TIMEOUT}s (logs in $dir/logs)"
    fi
    sleep 0.05
  done
  local npid
  npid="$(cat "$dir/nginx.pid")"
  [[ "$npid" == "$pid" ]] || echo "nchan.sh: warning: nginx.pid ($npid) differs from started pid ($pid)" >&2
  echo "$pid"
}

cmd_stop() {
  local dir="$1" pid=""
  [[ -d "$dir" ]] || die "no such directory: $dir"
  if [[ -s "$dir/nginx.pid" ]]; then
    pid="$(cat "$dir/nginx.pid")"
  elif [[ -s "$dir/master.pid" ]]; then
    pid="$(cat "$dir/master.pid")"
  else
    echo "nchan.sh: no pid file in $dir (nginx.pid / master.pid): not running" >&2
    return 0
  fi
  [[ "$pid" =~ ^[0-9]+$ ]] || die "bad pid file content in $dir: $pid"
  if ! pid_alive "$pid"; then
    echo "nchan.sh: pid $pid from $dir is not running" >&2
    rm -f "$dir/nginx.pid" "$dir/master.pid"
    return 0
  fi
  # Make sure the pid really is this instance's nginx master before signalling it.
  local cmdline
  cmdline="$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null || true)"
  local absdir
  absdir="$(cd "$dir" && pwd)"
  [[ "$cmdline" == *nginx* && "$cmdline" == *"$absdir/nginx.conf"* ]] \
    || die "pid $pid is not the nginx master of $absdir (cmdline: $cmdline); not touching it"

  # Its workers (children of the master), remembered in case the master has to be killed.
  local workers
  workers="$(children_of "$pid")"

  # TERM = nginx "fast shutdown": workers close every connection (open SSE streams included)
  # and exit; the master exits after them. QUIT (graceful) would wait for the streams to end.
  kill -TERM "$pid"
  local deadline=$(( $(date +%s) + STOP_TIMEOUT ))
  while pid_alive "$pid"; do
    if (( $(date +%s) >= deadline )); then
      echo "nchan.sh: pid $pid still running after ${STOP_TIMEOUT}s, sending KILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      local w
      for w in $workers; do kill -KILL "$w" 2>/dev/null || true; done
      break
    fi
    sleep 0.05
  done
  rm -f "$dir/nginx.pid" "$dir/master.pid"
}

[[ $# -ge 1 ]] || usage
case "$1" in
  start) [[ $# -eq 3 ]] || usage; cmd_start "$2" "$3" ;;
  stop)  [[ $# -eq 2 ]] || usage; cmd_stop "$2" ;;
  check) [[ $# -eq 1 ]] || usage; check_install; echo "ok: $NGX, $NCHAN_MODULE" ;;
  *) usage ;;
esac
