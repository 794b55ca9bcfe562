#!/usr/bin/env bash
# Creates Kesu's NATS identities with nsc (https://github.com/nats-io/nsc):
# an operator, the system account, the KESU account (JetStream enabled) and
# one user per Kesu service, each allowed only the subjects it needs. It
# writes, under $OUT:
#
#   resolver.conf      -> Secret nats-auth in namespace nats (the StatefulSet
#                         includes it: operator JWT, system account, account JWTs)
#   <user>.creds       -> Secret kesu-nats-<user>, key nats.creds, in Kesu's
#                         namespace (the chart mounts it; NATS_CREDS)
#
#   OUT=./nats-out ./deploy/nats/nsc-setup.sh
#   kubectl -n nats create secret generic nats-auth --from-file=resolver.conf=nats-out/resolver.conf
#   for u in intake routing escalation followup reporting admin; do
#     kubectl -n kesu create secret generic kesu-nats-$u --from-file=nats.creds=nats-out/$u.creds
#   done
#
# The seeds stay in nsc's keystore ($NKEYS_PATH, default ~/.local/share/nats/nsc/keys):
# keep it in your secrets vault, it is what signs new users. Re-running adds
# missing identities; RESET=1 reissues the users after the table changed.
#
# tools/chartcheck reads the permission table below, issues the same users
# with the same permissions against a real NATS server and checks that each
# service can do its work and nothing else: edit it here only.
set -euo pipefail

OUT=${OUT:-./nats-out}
OPERATOR=${OPERATOR:-kesu}
ACCOUNT=KESU
# JetStream limits of the KESU account (-1: bounded only by the servers'
# max_file_store and max_memory_store; a limit above them disables JetStream
# for the account).
JS_DISK=${JS_DISK:--1}
JS_MEM=${JS_MEM:--1}

declare -A ALLOW_PUB DENY_PUB ALLOW_SUB

# What no service may do to the streams: delete or purge them or their
# messages. COMPLAINTS also refuses it itself (DenyDelete/DenyPurge).
NO_DESTROY='$JS.API.STREAM.DELETE.*,$JS.API.STREAM.PURGE.*,$JS.API.STREAM.MSG.DELETE.*'
# Only intake (which ensures the streams at start-up, like the chart's job)
# and admin change stream configuration.
NO_STREAM_CONFIG='$JS.API.STREAM.CREATE.*,$JS.API.STREAM.UPDATE.*'

# intake: appends complaint events, consumes INBOUND (work queue), keeps its
# request-id bucket, parks poison messages.
ALLOW_PUB[intake]='complaints.*,deadletter.>,$JS.API.>,$JS.ACK.COMPLAINTS.>,$JS.ACK.INBOUND.>,$KV.INTAKE_REQUESTS.>'
DENY_PUB[intake]="$NO_DESTROY"
ALLOW_SUB[intake]='_INBOX.>'
# routing and followup: append events, run their projections.
ALLOW_PUB[routing]='complaints.*,deadletter.>,$JS.API.>,$JS.ACK.COMPLAINTS.>'
DENY_PUB[routing]="$NO_DESTROY,$NO_STREAM_CONFIG"
ALLOW_SUB[routing]='_INBOX.>'
ALLOW_PUB[followup]='complaints.*,alerts.>,deadletter.>,$JS.API.>,$JS.ACK.COMPLAINTS.>,$JS.ACK.INBOUND.>'
DENY_PUB[followup]="$NO_DESTROY,$NO_STREAM_CONFIG"
ALLOW_SUB[followup]='_INBOX.>'
# escalation: as routing, and raises alerts for the war room.
ALLOW_PUB[escalation]='complaints.*,alerts.>,deadletter.>,$JS.API.>,$JS.ACK.COMPLAINTS.>'
DENY_PUB[escalation]="$NO_DESTROY,$NO_STREAM_CONFIG"
ALLOW_SUB[escalation]='_INBOX.>'
# reporting only reads: no complaint events, no alerts.
ALLOW_PUB[reporting]='deadletter.>,$JS.API.>,$JS.ACK.COMPLAINTS.>'
DENY_PUB[reporting]="$NO_DESTROY,$NO_STREAM_CONFIG,complaints.>,alerts.>"
ALLOW_SUB[reporting]='_INBOX.>'
# admin: the chart's stream-setup job (`kesuctl streams`).
ALLOW_PUB[admin]='$JS.API.INFO,$JS.API.STREAM.CREATE.*,$JS.API.STREAM.UPDATE.*,$JS.API.STREAM.INFO.*,$JS.API.STREAM.NAMES,$JS.API.STREAM.LIST'
DENY_PUB[admin]=''
ALLOW_SUB[admin]='_INBOX.>'
# connector: marketplace, hotline and 12315 integrations publishing to INBOUND.
ALLOW_PUB[connector]='inbound.complaints.>,inbound.surveys.>'
DENY_PUB[connector]=''
ALLOW_SUB[connector]='_INBOX.>'

USERS=(intake routing escalation followup reporting admin connector)

command -v nsc >/dev/null || { echo "nsc not found: install it from https://github.com/nats-io/nsc/releases" >&2; exit 1; }
mkdir -p "$OUT"

nsc describe operator "$OPERATOR" >/dev/null 2>&1 || nsc add operator --generate-signing-key --sys --name "$OPERATOR"
nsc env -o "$OPERATOR" >/dev/null
nsc describe account "$ACCOUNT" >/dev/null 2>&1 || nsc add account --name "$ACCOUNT"
nsc edit account --name "$ACCOUNT" --js-disk-storage "$JS_DISK" --js-mem-storage "$JS_MEM" \
  --js-streams -1 --js-consumer -1

for u in "${USERS[@]}"; do
  if nsc describe user --account "$ACCOUNT" --name "$u" >/dev/null 2>&1; then
    if [[ "${RESET:-0}" != 1 ]]; then
      echo "user $u exists; RESET=1 reissues every user with the table's permissions (new keys: redistribute the creds)"
      nsc generate creds --account "$ACCOUNT" --name "$u" > "$OUT/$u.creds"
      chmod 600 "$OUT/$u.creds"
      continue
    fi
    nsc delete user --account "$ACCOUNT" --name "$u" --revoke
  fi
  args=(--allow-pub "${ALLOW_PUB[$u]}" --allow-sub "${ALLOW_SUB[$u]}")
  [[ -n "${DENY_PUB[$u]}" ]] && args+=(--deny-pub "${DENY_PUB[$u]}")
  nsc add user --account "$ACCOUNT" --name "$u" "${args[@]}"
  nsc generate creds --account "$ACCOUNT" --name "$u" > "$OUT/$u.creds"
  chmod 600 "$OUT/$u.creds"
done

nsc generate config --mem-resolver --sys-account SYS --config-file "$OUT/resolver.conf" --force
echo "wrote $OUT/resolver.conf and $OUT/{$(IFS=,; echo "${USERS[*]}")}.creds"
