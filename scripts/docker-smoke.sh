#!/usr/bin/env bash
# Smoke-test the Docker image: build it on a private dockerd, run it, call its API, stop it.
#
# Needs root and apt-get: installs Debian's docker.io and debootstrap when they are missing, and
# builds a local stand-in for the Dockerfile's base image with debootstrap, since no registry is
# reachable. Everything else lives in one temporary folder that is removed on every exit path.
# Without root or apt-get it prints why and exits 0.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGE=nanoadmin:smoke
SUITE=bookworm
STOP_LIMIT_MS=2000

PASSED=0
FAILED=0
WORK=""
DOCKERD_PID=""
POLICY_RC_D=""
CONTAINERS=()
BUILD_ARGS=()
# Runtime folders that dockerd and containerd make at fixed places; removed again if we made them.
RUNTIME_DIRS=(/run/containerd/s /run/containerd /run/docker/plugins /run/docker)
NEW_RUNTIME_DIRS=()

say() { printf 'docker-smoke: %s\n' "$*"; }
pass() { PASSED=$((PASSED + 1)); say "ok   $1"; }
fail() { FAILED=$((FAILED + 1)); say "FAIL $1"; }
check() {
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}
# A step the rest depends on: on failure show its log, count it and stop. It runs in a subshell
# so that a signal never leaves this shell's output redirected into the log while cleaning up.
step() {
    local name=$1 log=$2
    shift 2
    local start=$SECONDS
    say "$name"
    if ! ("$@") >"$log" 2>&1; then
        tail -n 40 "$log" | sed 's/^/    /'
        fail "$name"
        exit 1
    fi
    say "  done in $((SECONDS - start))s"
}
retry_once() {
    "$@" && return 0
    say "retrying once: $*"
    sleep 5
    "$@"
}
millis() { echo $(($(date +%s%N) / 1000000)); }

skip_unless_runnable() {
    local why=""
    if [[ $(id -u) -ne 0 ]]; then
        why="not root (dockerd and debootstrap need root)"
    elif ! command -v apt-get >/dev/null; then
        why="no apt-get to install docker.io and debootstrap"
    fi
    if [[ -n $why ]]; then
        say "skipped: $why"
        exit 0
    fi
}

# --- cleanup ----------------------------------------------------------------------------------

unmount_under() {
    local dir=$1 target targets
    for _ in 1 2 3; do
        targets=$(findmnt -rn -o TARGET | awk -v d="$dir" 'index($0, d "/") == 1' | sort -r)
        [[ -z $targets ]] && return 0
        while read -r target; do
            umount "$target" 2>/dev/null || umount -l "$target" 2>/dev/null || true
        done <<<"$targets"
    done
    ! findmnt -rn -o TARGET | awk -v d="$dir" 'index($0, d "/") == 1' | grep -q .
}

# SIGTERM, up to 20 s to exit, then SIGKILL.
end_process() {
    local pid=$1
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
}

stop_dockerd() {
    local containerd_pid dir
    end_process "$DOCKERD_PID"
    wait "$DOCKERD_PID" 2>/dev/null || true
    # dockerd stops the containerd it spawned, unless it was killed before it could.
    containerd_pid=$(cat "$WORK/exec/containerd/containerd.pid" 2>/dev/null || true)
    [[ -n $containerd_pid ]] && end_process "$containerd_pid"
    for dir in "${NEW_RUNTIME_DIRS[@]}"; do
        rmdir "$dir" 2>/dev/null || true
    done
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    # A signal may land inside a function whose output goes to a log or /dev/null.
    exec 1>&3 2>&4
    if [[ -n $DOCKERD_PID ]]; then
        ((${#CONTAINERS[@]})) && docker rm -f "${CONTAINERS[@]}" >/dev/null 2>&1
        stop_dockerd
    fi
    [[ -n $POLICY_RC_D ]] && rm -f "$POLICY_RC_D"
    if [[ -n $WORK && -d $WORK ]]; then
        if unmount_under "$WORK"; then
            rm -rf --one-file-system "$WORK"
        else
            say "left $WORK in place: something under it is still mounted"
        fi
    fi
    ((rc != 0 && FAILED == 0)) && fail "stopped early (exit $rc)"
    say "took $((SECONDS))s"
    echo "docker-smoke: $PASSED passed, $FAILED failed"
    ((FAILED == 0)) && exit "$rc"
    exit 1
}

# --- tools ------------------------------------------------------------------------------------

apt_install() {
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@"
}

install_tools() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    ((${#missing[@]})) || return 0
    # docker.io's postinst would otherwise start a system dockerd with a bridge and iptables rules.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        POLICY_RC_D=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC_D"
        chmod 755 "$POLICY_RC_D"
    fi
    export DEBIAN_FRONTEND=noninteractive
    step "installing ${missing[*]}" "$WORK/apt.log" retry_once apt_install "${missing[@]}"
    if [[ -n $POLICY_RC_D ]]; then
        rm -f "$POLICY_RC_D"
        POLICY_RC_D=""
    fi
}

docker() {
    # Debian's client, matching its daemon, before any other docker on the PATH.
    local cli=/usr/bin/docker
    [[ -x $cli ]] || cli=$(type -P docker)
    DOCKER_BUILDKIT=0 "$cli" "$@"
}

start_dockerd() {
    mkdir -p "$WORK/data" "$WORK/exec" "$WORK/client"
    # Its own config, not the machine's; dockerd 20.10 writes its identity key to /etc/docker
    # unless told otherwise, and only the config file can tell it.
    printf '{"deprecated-key-path": "%s"}\n' "$WORK/key.json" >"$WORK/daemon.json"
    export DOCKER_HOST="unix://$WORK/docker.sock" DOCKER_CONFIG="$WORK/client"
    local dir
    for dir in "${RUNTIME_DIRS[@]}"; do
        [[ -e $dir ]] || NEW_RUNTIME_DIRS+=("$dir")
    done
    say "starting dockerd"
    dockerd --bridge=none --iptables=false --ip-masq=false \
        --data-root "$WORK/data" --exec-root "$WORK/exec" --pidfile "$WORK/dockerd.pid" \
        --config-file "$WORK/daemon.json" -H "$DOCKER_HOST" \
        >"$WORK/dockerd.log" 2>&1 3>&- 4>&- &
    DOCKERD_PID=$!
    for _ in $(seq 1 60); do
        docker version >/dev/null 2>&1 && return 0
        kill -0 "$DOCKERD_PID" 2>/dev/null || break
        sleep 0.5
    done
    tail -n 40 "$WORK/dockerd.log" | sed 's/^/    /'
    fail "dockerd did not start"
    exit 1
}

# --- the stand-in base image ------------------------------------------------------------------

# The Debian mirror this machine's apt uses for $SUITE (one-line or deb822 sources).
debian_mirror() {
    local mirror
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk -v suite="$SUITE" '$1 == "deb" {
            for (i = 2; i < NF; i++) if ($i ~ /^https?:/ && $(i + 1) == suite) { print $i; exit } }')
    if [[ -z $mirror ]]; then
        mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v suite="$SUITE" '
            BEGIN { RS = ""; FS = "\n" }
            {
                uri = ""; found = 0
                for (i = 1; i <= NF; i++) {
                    n = split($i, word, /[ \t]+/)
                    if (tolower(word[1]) == "uris:") uri = word[2]
                    if (tolower(word[1]) == "suites:") for (j = 2; j <= n; j++) found += word[j] == suite
                }
                if (found && uri ~ /^https?:/) { print uri; exit }
            }')
    fi
    echo "${mirror:-http://deb.debian.org/debian}"
}

debootstrap_rootfs() {
    local rootfs=$1 mirror=$2
    unmount_under "$rootfs" || return 1
    rm -rf --one-file-system "$rootfs"
    # The .debs go to apt's own cache, the one thing this script may leave behind.
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        --cache-dir=/var/cache/apt/archives "$SUITE" "$rootfs" "$mirror"
}

trust_machine_cas() {
    local rootfs=$1
    if [[ -d /usr/local/share/ca-certificates ]]; then
        cp -r /usr/local/share/ca-certificates/. "$rootfs/usr/local/share/ca-certificates/" ||
            return 1
    fi
    chroot "$rootfs" update-ca-certificates
}

import_base_image() {
    local rootfs=$1 tag=$2
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb || return 1
    # What python:3.12-slim sets, plus the machine's CA bundle for pip.
    tar -C "$rootfs" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
        --change 'CMD ["python3"]' - "$tag"
}

build_base_image() {
    local tag rootfs=$WORK/rootfs mirror
    tag=$(sed -n 's/^ARG BASE_IMAGE=//p' "$REPO/Dockerfile" | head -n 1)
    [[ -n $tag ]] || { fail "no ARG BASE_IMAGE in the Dockerfile"; exit 1; }
    mirror=$(debian_mirror)
    step "debootstrap $SUITE from $mirror" "$WORK/debootstrap.log" \
        retry_once debootstrap_rootfs "$rootfs" "$mirror"
    step "adding this machine's CA certificates" "$WORK/ca.log" trust_machine_cas "$rootfs"
    step "importing the stand-in base as $tag" "$WORK/import.log" \
        import_base_image "$rootfs" "$tag"
    rm -rf --one-file-system "$rootfs"
}

# --- the build --------------------------------------------------------------------------------

host_python() {
    if [[ -x $REPO/.venv/bin/python ]]; then echo "$REPO/.venv/bin/python"; else echo python3; fi
}

# A pip option as the host's pip sees it: PIP_* first, then its config files.
pip_setting() {
    local name=$1 variable value
    variable=PIP_$(tr 'a-z-' 'A-Z_' <<<"$name")
    if [[ -n ${!variable:-} ]]; then
        echo "${!variable}"
        return
    fi
    value=$("$(host_python)" -m pip config get "global.$name" 2>/dev/null) ||
        value=$("$(host_python)" -m pip config get "install.$name" 2>/dev/null) || true
    echo "$value"
}

# Pass the host's pip index, timeout and proxy settings to the build; local paths (file://
# indexes, find-links folders) mean nothing inside it and are dropped.
collect_build_args() {
    local name value word kept variable
    for name in index-url extra-index-url trusted-host default-timeout; do
        value=$(pip_setting "$name")
        kept=""
        for word in $value; do
            case $name in
            *index-url) [[ $word =~ ^https?:// ]] || continue ;;
            esac
            kept+="${kept:+ }$word"
        done
        [[ -n $kept ]] && BUILD_ARGS+=(--build-arg "PIP_$(tr 'a-z-' 'A-Z_' <<<"$name")=$kept")
    done
    for variable in HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy; do
        [[ -n ${!variable:-} ]] && BUILD_ARGS+=(--build-arg "$variable")
    done
    return 0
}

build_arg_names() {
    local arg names=""
    for arg in "${BUILD_ARGS[@]}"; do
        [[ $arg == --build-arg ]] || names+="${names:+ }${arg%%=*}"
    done
    echo "${names:-none}"
}

build_image() {
    collect_build_args
    # Names only: an index URL may carry credentials.
    step "docker build (build args: $(build_arg_names))" "$WORK/build.log" \
        docker build --network host "${BUILD_ARGS[@]}" -t "$IMAGE" "$REPO"
}

# --- running it -------------------------------------------------------------------------------

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

http_code() {
    curl --noproxy '*' -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true
}

expect_code() {
    local want=$1 got
    shift
    got=$(http_code "$@")
    [[ $got == "$want" ]] || { say "  expected HTTP $want, got $got from ${*: -1}"; return 1; }
}

# Start the image on the host network with CONF as its config; wait until /status answers.
run_container() {
    local name=$1 port=$2 conf=$3
    shift 3
    CONTAINERS+=("$name")
    docker run -d --name "$name" --network host \
        -v "$conf:/etc/nanoadmin/nanomq.conf:ro" "$@" \
        -e "NANOADMIN_HEALTHCHECK_URL=http://127.0.0.1:$port/status" \
        --health-interval 1s --health-start-period 30s "$IMAGE" >/dev/null ||
        { fail "docker run $name"; exit 1; }
    wait_for_status "$name" "$port"
}

# The server is PID 1 in the container; its real uid is the second field of Uid: in its status.
runs_as_non_root() {
    local uid
    uid=$(docker exec "$1" cat /proc/1/status | awk '$1 == "Uid:" { print $2 }')
    say "  uid of the server process: ${uid:-unknown}"
    [[ $uid =~ ^[0-9]+$ && $uid -ne 0 ]]
}

becomes_healthy() {
    local status
    for _ in $(seq 1 40); do
        status=$(docker inspect -f '{{.State.Health.Status}}' "$1")
        [[ $status == healthy ]] && return 0
        sleep 0.5
    done
    say "  health: $status"
    return 1
}

baked_config_binds_everywhere() {
    local out
    out=$(docker run --rm --network host "$IMAGE" check-config)
    grep -qx 'http_server.ip_addr = 0.0.0.0' <<<"$out" && grep -qx 'http_server.port = 8081' <<<"$out"
}

holds_no_private_key() {
    local found
    found=$(docker run --rm --network host --user 0 --entrypoint sh "$IMAGE" -c \
        "find / -xdev -type f -name '*.key'; find /etc/nanoadmin -type f ! -name nanomq.conf")
    [[ -z $found ]] || { say "  found: $found"; return 1; }
}

STOP_MS=""
stop_container() {
    local start
    start=$(millis)
    docker stop "$1" >/dev/null
    STOP_MS=$(($(millis) - start))
    say "  docker stop took ${STOP_MS} ms"
}

stops_in_time() { [[ $STOP_MS -lt $STOP_LIMIT_MS ]]; }

exited_cleanly() {
    local code
    code=$(docker inspect -f '{{.State.ExitCode}}' "$1")
    say "  exit code: $code"
    [[ $code == 0 ]]
}

basic_auth_checks() {
    local port conf=$WORK/basic.conf name=nanoadmin-smoke-basic
    port=$(free_port)
    printf 'http_server {\n  port = %s\n  ip_addr = "127.0.0.1"\n}\n' "$port" >"$conf"
    run_container "$name" "$port" "$conf"
    local api=http://127.0.0.1:$port
    check "GET /status answers 200" expect_code 200 "$api/status"
    check "Basic-authenticated GET /api/v4/brokers answers 200" \
        expect_code 200 -u admin:public "$api/api/v4/brokers"
    check "GET /api/v4/brokers without credentials answers 401" \
        expect_code 401 "$api/api/v4/brokers"
    check "the server runs as a non-root user" runs_as_non_root "$name"
    check "the Python HEALTHCHECK reports healthy" becomes_healthy "$name"
    stop_container "$name"
    check "docker stop ends it within ${STOP_LIMIT_MS} ms" stops_in_time
    check "it exits 0 on SIGTERM" exited_cleanly "$name"
}

# The baked config sets no port or address: NanoMQ's variables apply to it.
environment_checks() {
    local port name=nanoadmin-smoke-env
    port=$(free_port)
    CONTAINERS+=("$name")
    docker run -d --name "$name" --network host -e "NANOMQ_HTTP_SERVER_PORT=$port" \
        -e NANOMQ_HTTP_SERVER_URL=127.0.0.1 -e NANOMQ_HTTP_SERVER_PASSWORD=from-env \
        -e "NANOADMIN_HEALTHCHECK_URL=http://127.0.0.1:$port/status" "$IMAGE" >/dev/null ||
        { fail "docker run $name"; exit 1; }
    wait_for_status "$name" "$port"
    check "NANOMQ_HTTP_SERVER_PORT and _URL move the baked config's listener" \
        expect_code 200 "http://127.0.0.1:$port/status"
    check "NANOMQ_HTTP_SERVER_PASSWORD sets the baked config's password" \
        expect_code 200 -u admin:from-env "http://127.0.0.1:$port/api/v4/brokers"
    docker stop "$name" >/dev/null
    local file_port conf=$WORK/port.conf other name2=nanoadmin-smoke-beaten
    file_port=$(free_port)
    other=$(free_port)
    printf 'http_server {\n  port = %s\n  ip_addr = "127.0.0.1"\n}\n' "$file_port" >"$conf"
    run_container "$name2" "$file_port" "$conf" -e "NANOMQ_HTTP_SERVER_PORT=$other"
    check "a port in a mounted config beats NANOMQ_HTTP_SERVER_PORT" \
        expect_code 200 "http://127.0.0.1:$file_port/status"
    check "and the log says the file beat the variable" logs_say "$name2" \
        "beats NANOMQ_HTTP_SERVER_PORT"
    docker stop "$name2" >/dev/null
}

wait_for_status() {
    local name=$1 port=$2
    for _ in $(seq 1 60); do
        [[ $(http_code "http://127.0.0.1:$port/status") == 200 ]] && return 0
        [[ $(docker inspect -f '{{.State.Running}}' "$name") == true ]] || break
        sleep 0.5
    done
    docker logs "$name" 2>&1 | tail -n 20 | sed 's/^/    /'
    fail "$name did not serve /status"
    exit 1
}

logs_say() {
    docker logs "$1" 2>&1 | grep -qF "$2" || { say "  no line with: $2"; return 1; }
}

host_nanoadmin() {
    if [[ -x $REPO/.venv/bin/nanoadmin ]]; then
        "$REPO/.venv/bin/nanoadmin" "$@"
    else
        PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" python3 -m nanoadmin "$@"
    fi
}

jwt_checks() {
    local port token conf=$WORK/jwt.conf keys=$WORK/keys name=nanoadmin-smoke-jwt
    step "minting a key pair and a token on the host" "$WORK/keygen.log" \
        host_nanoadmin keygen --out "$keys" --name nanomq
    token=$(host_nanoadmin token --key "$keys/nanomq.key" --iss nanomq.pub) ||
        { fail "minting a token"; exit 1; }
    port=$(free_port)
    cat >"$conf" <<EOF
http_server {
  port = $port
  ip_addr = "127.0.0.1"
  auth_type = jwt
  jwt { public.keyfile = "/etc/nanoadmin/keys/nanomq.pub" }
}
EOF
    # Only the public half goes in; the private key never leaves $WORK.
    run_container "$name" "$port" "$conf" \
        -v "$keys/nanomq.pub:/etc/nanoadmin/keys/nanomq.pub:ro"
    local api=http://127.0.0.1:$port
    check "JWT GET /api/v4/brokers answers 200" \
        expect_code 200 -H "Authorization: Bearer $token" "$api/api/v4/brokers"
    check "JWT mode refuses Basic credentials with 401" \
        expect_code 401 -u admin:public "$api/api/v4/brokers"
}

main() {
    skip_unless_runnable
    umask 022
    exec 3>&1 4>&2
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/docker-smoke.XXXXXX")
    chmod 755 "$WORK"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    install_tools
    start_dockerd
    build_base_image
    build_image
    check "the baked config binds 0.0.0.0:8081" baked_config_binds_everywhere
    check "the image holds no private key" holds_no_private_key
    basic_auth_checks
    environment_checks
    jwt_checks
}

main "$@"
