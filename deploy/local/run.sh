#!/usr/bin/env bash
# Starts the local stack, builds every service under services/*/ that has a src/main.rs,
# and runs them all in the foreground, each output line prefixed with the service's name.
# Ctrl-C (or SIGTERM) stops the services; the stack keeps running (`make stack-down`).
# If one service exits on its own, the others are stopped too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

deploy/local/stack.sh up
# shellcheck source=/dev/null
. .local/env

# Command-line clients live under services/ too but are not servers.
NOT_SERVERS=" gridloopctl "

pkgs=()
for main in services/*/src/main.rs; do
    [ -f "$main" ] || continue
    dir=${main%/src/main.rs}
    case "$NOT_SERVERS" in *" ${dir#services/} "*) continue ;; esac
    pkg=$(sed -n '/^\[package\]/,/^\[/s/^name *= *"\(.*\)".*/\1/p' "$dir/Cargo.toml" | head -n1)
    [ -n "$pkg" ] || {
        echo "run: cannot read the package name in $dir/Cargo.toml" >&2
        exit 1
    }
    pkgs+=("$pkg")
done

if [ ${#pkgs[@]} -eq 0 ]; then
    echo "run: the stack is up (. .local/env); no services exist yet under services/, so there is nothing else to start."
    exit 0
fi

# Build once, and learn each service's executable from cargo's own report (this honours
# CARGO_TARGET_DIR and any [[bin]] renaming).
artifacts=$(mktemp)
trap 'rm -f "$artifacts"' EXIT
build_args=()
for pkg in "${pkgs[@]}"; do build_args+=(-p "$pkg"); done
echo "run: building ${pkgs[*]}"
cargo build "${build_args[@]}" --bins --message-format=json-render-diagnostics >"$artifacts"

labels=()
exes=()
while IFS= read -r line; do
    case "$line" in *'"reason":"compiler-artifact"'*'"executable":"'*) ;; *) continue ;; esac
    src=${line#*\"src_path\":\"}
    src=${src%%\"*}
    case "$src" in "$PWD"/services/*/src/main.rs) ;; *) continue ;; esac
    exe=${line#*\"executable\":\"}
    exe=${exe%%\"*}
    name=${src#"$PWD"/services/}
    labels+=("${name%/src/main.rs}")
    exes+=("$exe")
done <"$artifacts"
[ ${#exes[@]} -gt 0 ] || {
    echo "run: cargo built no service executables" >&2
    exit 1
}

width=0
for l in "${labels[@]}"; do if ((${#l} > width)); then width=${#l}; fi; done

pids=()
for i in "${!exes[@]}"; do
    prefix=$(printf '%-*s | ' "$width" "${labels[$i]}")
    # The prefixer ignores Ctrl-C so it keeps printing while its service shuts down.
    "${exes[$i]}" > >(
        trap '' INT
        exec sed -u "s/^/$prefix/"
    ) 2>&1 &
    pids+=($!)
done
echo "run: started ${labels[*]} (Ctrl-C stops them)"

stop() {
    trap - INT TERM
    echo "run: stopping ${labels[*]}"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

status=0
first=""
wait -n -p first "${pids[@]}" || status=$?
for i in "${!pids[@]}"; do
    if [ "${pids[$i]}" = "$first" ]; then first=${labels[$i]}; fi
done
echo "run: ${first:-a service} exited with status $status; stopping the others"
stop
exit "$status"
