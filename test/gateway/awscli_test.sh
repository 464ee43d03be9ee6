#!/usr/bin/env bash
# The aws CLI (Debian awscli) as producer and consumer against kinesis_glue_gateway.
#
#   awscli_test.sh ENDPOINT STREAM [SIGV4_ENDPOINT KEY SECRET]
#
# Prints "ok: ..." lines and exits non-zero at the first failed check.
set -euo pipefail
EP=$1 STREAM=$2
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE00000000 AWS_SECRET_ACCESS_KEY=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
export AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_MAX_ATTEMPTS=1 AWS_PAGER='' HOME=${TMPDIR:-/tmp}
k() { aws --endpoint-url "$EP" kinesis "$@"; }
fail() { echo "not ok: $*"; exit 1; }

k create-stream --stream-name "$STREAM" --shard-count 1
[[ $(k describe-stream-summary --stream-name "$STREAM" --query StreamDescriptionSummary.StreamStatus --output text) == ACTIVE ]] ||
	fail "describe-stream-summary"
echo "ok: create-stream, describe-stream-summary"
for i in 1 2 3; do
	k put-record --stream-name "$STREAM" --partition-key "key-$i" --data "$(printf 'record %d' "$i" | base64)" >/dev/null
done
echo "ok: put-record x3"
it=$(k get-shard-iterator --stream-name "$STREAM" --shard-id shardId-000000000000 \
	--shard-iterator-type TRIM_HORIZON --query ShardIterator --output text)
got=$(k get-records --shard-iterator "$it" --query 'Records[].Data' --output text)
[[ $(for d in $got; do echo "$d" | base64 -d; echo; done) == $'record 1\nrecord 2\nrecord 3' ]] ||
	fail "get-records returned $got"
echo "ok: get-records reads them back in order"
k list-streams --query StreamNames --output text | grep -qw "$STREAM" || fail "list-streams"
if k describe-stream --stream-name "$STREAM-missing" 2>"$HOME/awscli.err"; then fail "describe of a missing stream"; fi
grep -q ResourceNotFoundException "$HOME/awscli.err" || fail "expected ResourceNotFoundException: $(cat "$HOME/awscli.err")"
echo "ok: list-streams, ResourceNotFoundException"
k delete-stream --stream-name "$STREAM"
echo "ok: delete-stream"

if [[ $# -ge 5 ]]; then
	AWS_ACCESS_KEY_ID=$4 AWS_SECRET_ACCESS_KEY=$5 aws --endpoint-url "$3" kinesis list-streams >/dev/null ||
		fail "a good signature (botocore, no x-amz-content-sha256) was refused"
	if AWS_ACCESS_KEY_ID=$4 AWS_SECRET_ACCESS_KEY=wrong-secret-wrong-secret aws --endpoint-url "$3" kinesis list-streams \
		2>"$HOME/awscli.err"; then fail "a bad signature was accepted"; fi
	grep -q InvalidSignatureException "$HOME/awscli.err" || fail "expected InvalidSignatureException: $(cat "$HOME/awscli.err")"
	echo "ok: SigV4 good and bad signatures from the CLI"
fi
