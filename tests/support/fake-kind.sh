#!/usr/bin/env bash
# A stand-in for kind, for tests on machines without Docker: each "cluster" is a
# `pushpull emulator serve` process, and its context `kind-NAME` is written to $KUBECONFIG
# as kind would. It answers the calls pushpull makes: `get clusters`, `create cluster
# --name N --config FILE [--wait D]` and `delete cluster --name N`.
#   FAKE_KIND_STATE  a directory for the clusters' pid, url, config and log files
#   PUSHPULL_BIN     the pushpull binary that serves the emulator
#   KUBECONFIG       the kubeconfig file to keep the kind-* contexts in
#   FAKE_KIND_FAIL   a cluster name whose creation fails, as when Docker runs out of room
#   FAKE_KIND_SLOW   a cluster name whose creation takes 60 s, unless interrupted (SIGINT)
set -euo pipefail
state="${FAKE_KIND_STATE:?}"
mkdir -p "$state"

# Rewrites $KUBECONFIG with one cluster/user/context triple per running cluster.
write_kubeconfig() {
    local clusters="" users="" contexts="" url name
    for url in "$state"/*.url; do
        [ -e "$url" ] || continue
        name="kind-$(basename "$url" .url)"
        clusters+="- name: $name"$'\n'"  cluster:"$'\n'"    server: $(cat "$url")"$'\n'
        users+="- name: $name"$'\n'"  user: {}"$'\n'
        contexts+="- name: $name"$'\n'"  context:"$'\n'"    cluster: $name"$'\n'"    user: $name"$'\n'
    done
    {
        echo "apiVersion: v1"
        echo "kind: Config"
        if [ -n "$clusters" ]; then
            printf 'clusters:\n%susers:\n%scontexts:\n%s' "$clusters" "$users" "$contexts"
        else
            printf 'clusters: []\nusers: []\ncontexts: []\n'
        fi
    } >"$KUBECONFIG.tmp"
    mv "$KUBECONFIG.tmp" "$KUBECONFIG"
}

flag() { # flag NAME ARGS...: the value after --NAME
    local want="--$1"
    shift
    while [ $# -gt 0 ]; do
        if [ "$1" = "$want" ]; then
            echo "$2"
            return
        fi
        shift
    done
    echo "fake kind: missing $want" >&2
    exit 2
}

case "${1:-} ${2:-}" in
"get clusters")
    found=0
    for pid in "$state"/*.pid; do
        [ -e "$pid" ] || continue
        basename "$pid" .pid
        found=1
    done
    [ "$found" = 1 ] || echo "No kind clusters found." >&2
    ;;
"create cluster")
    name=$(flag name "$@")
    config=$(flag config "$@")
    [ -f "$config" ] || { echo "ERROR: failed to read config $config" >&2; exit 1; }
    [ ! -e "$state/$name.pid" ] || { echo "ERROR: node(s) already exist for a cluster with the name \"$name\"" >&2; exit 1; }
    if [ "${FAKE_KIND_FAIL:-}" = "$name" ]; then
        echo "ERROR: failed to create cluster: command \"docker run --name $name-control-plane\" failed with error: exit status 125" >&2
        exit 1
    fi
    if [ "${FAKE_KIND_SLOW:-}" = "$name" ]; then
        # kind, interrupted, deletes the node it was making and exits non-zero.
        sleep 60 &
        trap 'kill $! 2>/dev/null; echo "ERROR: failed to create cluster: interrupted" >&2; exit 1' INT
        wait $!
    fi
    realpath "$config" >"$state/$name.config"
    # Detached from kind's stdout/stderr, as kind's containers are: the caller reads
    # kind's output to the end and must not wait for the cluster.
    nohup "${PUSHPULL_BIN:?}" emulator serve --kubeconfig "$state/$name.kc" \
        </dev/null >"$state/$name.log" 2>&1 &
    echo $! >"$state/$name.pid"
    for _ in $(seq 100); do
        [ -s "$state/$name.kc" ] && break
        sleep 0.1
    done
    url=$(sed -n 's/^ *server: //p' "$state/$name.kc")
    [ -n "$url" ] || { echo "ERROR: cluster $name did not come up: $(cat "$state/$name.log")" >&2; exit 1; }
    echo "$url" >"$state/$name.url"
    write_kubeconfig
    echo "Creating cluster \"$name\" ..." >&2
    ;;
"delete cluster")
    name=$(flag name "$@")
    if [ -e "$state/$name.pid" ]; then
        pid=$(cat "$state/$name.pid")
        kill "$pid" 2>/dev/null || true
        # Bounded: where nothing reaps the orphan, it lingers as a zombie.
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            grep -q '^[^ ]* ([^)]*) Z' "/proc/$pid/stat" 2>/dev/null && break
            sleep 0.05
        done
        rm -f "$state/$name".{pid,url,kc,config}
        write_kubeconfig
    fi
    echo "Deleting cluster \"$name\" ..." >&2
    ;;
*)
    echo "fake kind: unsupported command: $*" >&2
    exit 2
    ;;
esac
