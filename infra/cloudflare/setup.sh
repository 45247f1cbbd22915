#!/usr/bin/env bash
# One-time (and safe to re-run) Cloudflare set-up for faultline: the R2 bucket, the four queues, the D1
# database (its id written into wrangler.toml), the remote D1 migrations, the R2 object-create
# notification into the `snapshots` queue, and the Worker's secrets. Every step checks before it
# creates, so a second run changes nothing. Then deploy with `npm run deploy` (docs/deploy.md).
#
# Usage: infra/cloudflare/setup.sh [--dry-run]
#   Authenticate first: `npx wrangler login`, or CLOUDFLARE_API_TOKEN (+ CLOUDFLARE_ACCOUNT_ID) in the env.
#   Secrets are read from the environment when set (never from arguments, so they stay out of shell
#   history and `ps`): SQS_QUEUE_URL, SQS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
#   FAULTLINE_ADMIN_TOKEN (optional). Unset ones are listed at the end with the command to set them.
#   Names (defaults match wrangler.toml): FAULTLINE_BUCKET, FAULTLINE_D1_NAME, FAULTLINE_WORKER.
set -euo pipefail

DRY_RUN=0
case "${1:-}" in
  --dry-run) DRY_RUN=1 ;;
  "") ;;
  -h | --help)
    sed -n '2,13p' "$0"
    exit 0
    ;;
  *)
    echo "usage: $0 [--dry-run]" >&2
    exit 2
    ;;
esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export WRANGLER_SEND_METRICS="${WRANGLER_SEND_METRICS:-false}"

BUCKET="${FAULTLINE_BUCKET:-faultline-snapshots}"
D1_NAME="${FAULTLINE_D1_NAME:-faultline}"
WORKER="${FAULTLINE_WORKER:-faultline}"
QUEUES=(snapshots alerts snapshots-dlq alerts-dlq)
NOTIFY_QUEUE="snapshots"
NOTIFY_PREFIX="snapshots/"
PLACEHOLDER_ID="00000000-0000-0000-0000-000000000000"

wrangler() { npx --no-install wrangler "$@"; }
say() { printf '\n== %s\n' "$*"; }
# Runs a state-changing command, or only prints it under --dry-run.
run() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '   would run:'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}
# Read-only checks still run under --dry-run when wrangler is logged in; otherwise they report "absent".
exists() {
  if [ "$DRY_RUN" = 1 ] && [ "$LOGGED_IN" = 0 ]; then return 1; fi
  "$@" >/dev/null 2>&1
}

LOGGED_IN=0
if wrangler whoami --json >/dev/null 2>&1; then
  LOGGED_IN=1
elif [ "$DRY_RUN" = 0 ]; then
  echo "wrangler is not authenticated: run 'npx wrangler login' or export CLOUDFLARE_API_TOKEN" >&2
  exit 1
fi

say "R2 bucket $BUCKET"
if exists wrangler r2 bucket info "$BUCKET"; then
  echo "   exists"
else
  run wrangler r2 bucket create "$BUCKET"
fi

for q in "${QUEUES[@]}"; do
  say "queue $q"
  if exists wrangler queues info "$q"; then
    echo "   exists"
  else
    run wrangler queues create "$q"
  fi
done

say "D1 database $D1_NAME"
d1_id() {
  wrangler d1 list --json 2>/dev/null | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      try {
        const db = JSON.parse(s).find((d) => d.name === process.argv[1]);
        if (db) process.stdout.write(String(db.uuid ?? db.database_id ?? ""));
      } catch {}
    });' "$D1_NAME"
}
DB_ID=""
if [ "$LOGGED_IN" = 1 ]; then DB_ID="$(d1_id)"; fi
if [ -n "$DB_ID" ]; then
  echo "   exists: $DB_ID"
else
  run wrangler d1 create "$D1_NAME"
  if [ "$DRY_RUN" = 0 ]; then DB_ID="$(d1_id)"; fi
fi
if [ -n "$DB_ID" ]; then
  current="$(sed -n 's/^database_id *= *"\([^"]*\)".*/\1/p' wrangler.toml | head -n 1)"
  if [ "$current" = "$DB_ID" ]; then
    echo "   wrangler.toml already names it"
  elif [ "$current" = "$PLACEHOLDER_ID" ] && [ "$DRY_RUN" = 0 ]; then
    sed -i.bak "s/^database_id *= *\"$PLACEHOLDER_ID\"/database_id = \"$DB_ID\"/" wrangler.toml && rm -f wrangler.toml.bak
    echo "   wrote database_id = \"$DB_ID\" into wrangler.toml (commit it)"
  else
    echo "   wrangler.toml has database_id = \"$current\"; put this line under [[d1_databases]]:"
    echo "   database_id = \"$DB_ID\""
  fi
elif [ "$DRY_RUN" = 1 ]; then
  echo "   would write the new database's id into wrangler.toml (database_id under [[d1_databases]])"
else
  echo "could not read the id of D1 database $D1_NAME (wrangler d1 list --json)" >&2
  exit 1
fi

say "D1 migrations (remote)"
# Non-interactive runs skip wrangler's confirmation prompt; a backup is captured either way.
run wrangler d1 migrations apply DB --remote

say "R2 notification: object-create under $NOTIFY_PREFIX -> queue $NOTIFY_QUEUE"
rules=""
if [ "$LOGGED_IN" = 1 ]; then rules="$(wrangler r2 bucket notification list "$BUCKET" 2>/dev/null || true)"; fi
if printf '%s' "$rules" | grep -q "$NOTIFY_QUEUE" && printf '%s' "$rules" | grep -qF "$NOTIFY_PREFIX"; then
  echo "   exists"
else
  run wrangler r2 bucket notification create "$BUCKET" \
    --event-type object-create --queue "$NOTIFY_QUEUE" --prefix "$NOTIFY_PREFIX" \
    --description "faultline: new snapshots to the ingest consumer"
fi

say "Worker secrets ($WORKER)"
# The bucket now notifies the queue itself, so ingest must not enqueue as well (functions/env.ts).
# A secret rather than a [vars] entry: `npm start` reads wrangler.toml [vars] and has no notifications.
# Before the first deploy, `wrangler secret put` (non-interactive) creates an empty draft Worker to hold
# the secrets; `npm run deploy` then uploads the real one and keeps them.
put_secret() {
  local name="$1" value="$2"
  if [ "$DRY_RUN" = 1 ]; then
    printf '   would set secret %s\n' "$name"
  else
    printf '%s' "$value" | wrangler secret put "$name" --name "$WORKER" >/dev/null
    printf '   set %s\n' "$name"
  fi
}
put_secret FAULTLINE_R2_NOTIFICATIONS on
missing=()
for name in SQS_QUEUE_URL SQS_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY FAULTLINE_ADMIN_TOKEN; do
  if [ -n "${!name:-}" ]; then
    put_secret "$name" "${!name}"
  else
    missing+=("$name")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "   not set (absent from this environment):"
  for name in "${missing[@]}"; do echo "     npx wrangler secret put $name --name $WORKER"; done
  echo "   SQS_* and AWS_* come from infra/aws/control-plane-sqs.yaml's outputs; without SQS_QUEUE_URL"
  echo "   the every-minute drain is a no-op. FAULTLINE_ADMIN_TOKEN is optional."
fi

say "done: deploy with 'npm run deploy'"
