#!/usr/bin/env bash
# Cold start of each function's release binary: init time (process spawn -> its first
# GET /2018-06-01/runtime/invocation/next, i.e. init done) and peak RSS (VmHWM) at that moment,
# before any event. Each binary runs against a local Lambda Runtime API (runtime_api.py next to
# this script, 127.0.0.1 only) with the stack's environment variables (fake values) and nothing
# else: AWS_ENDPOINT_URL points at the local API too, so an AWS call made during init is refused
# there and reported, and, where strace is installed, one more run lists every connect() made
# before the first event. Goal: init <= 20 ms, peak RSS <= 32 MB.
#
# Usage: bash functions/benches/cold_start.sh [function ...]   (default: ingest train lifecycle costs)
#   RUNS=5             cold starts per function
#   EXTRA_ENV="K=V .."  more variables for every function (experiments: TOKIO_WORKER_THREADS=1, ..)
#   CARGO_TARGET_DIR   honoured, as by cargo
# Exits non-zero only when it could not measure (build failed, a function did not start); a
# missed goal is printed, not a failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${RUNS:-5}"
if [ $# -gt 0 ]; then functions=("$@"); else functions=(ingest train lifecycle costs); fi

for f in "${functions[@]}"; do
    [ -f "functions/$f/Cargo.toml" ] || { echo "cold_start.sh: no function '$f' under functions/" >&2; exit 2; }
done
# Always every function, as infra/build.sh (and so the deployed stack) builds them: cargo unifies
# the shared crate's features across the selected packages, so a function built alone would be
# another binary (and a rebuild of the shared crate).
packages=()
for manifest in functions/*/Cargo.toml; do
    packages+=(-p "$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -1)")
done
cargo build --release --locked "${packages[@]}"
target="${CARGO_TARGET_DIR:-target}/release"

# An empty home: no ~/.aws of this machine's user is read (as on Lambda, where there is none).
home="$(mktemp -d)"
results="$(mktemp)"
trap 'rm -rf "$home" "$results"' EXIT
account=123456789012
region=eu-west-1
bucket="hawkins-pipeline-$account"
# What Lambda sets for every function (provided.al2023, JSON logs at INFO as in the template),
# and fake credentials: nothing here may reach AWS.
common=(
    PATH=/usr/local/bin:/usr/bin:/bin
    LANG=en_US.UTF-8
    TZ=:UTC
    AWS_REGION="$region"
    AWS_DEFAULT_REGION="$region"
    AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
    AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
    AWS_SESSION_TOKEN=cold-start-bench
    AWS_EC2_METADATA_DISABLED=true
    HOME="$home"
    AWS_LAMBDA_FUNCTION_VERSION='$LATEST'
    AWS_LAMBDA_INITIALIZATION_TYPE=on-demand
    AWS_LAMBDA_LOG_FORMAT=JSON
    AWS_LAMBDA_LOG_LEVEL=INFO
    AWS_LAMBDA_LOG_STREAM_NAME='2025/01/01/[$LATEST]00000000000000000000000000000000'
    AWS_EXECUTION_ENV=AWS_Lambda_provided.al2023
    _HANDLER=bootstrap
    LAMBDA_TASK_ROOT=/var/task
    LAMBDA_RUNTIME_DIR=/var/runtime
)
topic="arn:aws:sns:$region:$account:hawkins-alerts"
# Each function's own variables, as infra/template.yaml sets them (optional ones left unset, as
# with the template's defaults), and its memory setting.
function_env() {
    local name="$1" memory=256
    local vars=(HAWKINS_BUCKET="$bucket" HAWKINS_ALERT_TOPIC_ARN="$topic")
    case "$name" in
        ingest) memory=128 ;;
        train) vars+=(
            HAWKINS_SAGEMAKER_ROLE_ARN="arn:aws:iam::$account:role/hawkins-sagemaker-execution"
            HAWKINS_TRAIN_QUEUE_URL="https://sqs.$region.amazonaws.com/$account/hawkins-train") ;;
        lifecycle) vars+=(
            HAWKINS_SAGEMAKER_ROLE_ARN="arn:aws:iam::$account:role/hawkins-sagemaker-execution"
            HAWKINS_HOSTING_ROLE_ARN="arn:aws:iam::$account:role/hawkins-sagemaker-hosting") ;;
        costs) vars+=(HAWKINS_PRICE_LIST_REFRESH=false) ;;
    esac
    vars+=(
        AWS_LAMBDA_FUNCTION_NAME="hawkins-$name"
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="$memory"
        AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/hawkins-$name"
    )
    local v extra=()
    read -r -a extra <<<"${EXTRA_ENV:-}"
    for v in "${common[@]}" "${vars[@]}" "${extra[@]}"; do printf -- '--env\0%s\0' "$v"; done
}

strace_flag=()
if command -v strace >/dev/null && strace -f -qq -e trace=connect -o /dev/null true 2>/dev/null; then
    strace_flag=(--strace)
else
    echo "cold_start.sh: strace unavailable: the connect() check is skipped (AWS calls are still caught by the local endpoint)" >&2
fi

# The harness's own share of the init time: bash asking for an event and nothing else.
floor="$home/floor.sh"
cat >"$floor" <<'EOF'
#!/usr/bin/env bash
exec 3<>"/dev/tcp/${AWS_LAMBDA_RUNTIME_API%:*}/${AWS_LAMBDA_RUNTIME_API#*:}"
printf 'GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: runtime\r\n\r\n' >&3
read -r _ <&3
EOF
chmod +x "$floor"
python3 functions/benches/runtime_api.py measure --name "(floor)" --runs "$runs" --out "$results" \
    --env PATH=/usr/local/bin:/usr/bin:/bin -- "$floor"
for f in "${functions[@]}"; do
    mapfile -d '' env_args < <(function_env "$f")
    python3 functions/benches/runtime_api.py measure --name "$f" --runs "$runs" --out "$results" \
        "${env_args[@]}" "${strace_flag[@]}" -- "$target/$f"
done
echo
echo "Cold start, $runs runs per function, on $(uname -m) ($(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end):"
python3 functions/benches/runtime_api.py table "$results"
