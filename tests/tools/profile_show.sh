#!/bin/sh
# `moetier profile show` on a profile saved by the real writer: human output
# and JSON (golden; the temporary path normalized).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/tools_lib.sh"

prof=$TMP/cache/deep/test.prof
"$WRITER" profile "$prof" || fail "stats_writer profile failed"
[ "$(stat -c %a "$TMP/cache/deep")" = 700 ] || fail "profile directories should be created 0700"
[ "$(stat -c %a "$prof")" = 600 ] || fail "a profile should be mode 0600"
ls "$TMP/cache/deep" | grep -q tmp && fail "a temporary file was left beside the profile"
"$MOETIER" profile show "$prof" > "$TMP/out" || fail "profile show exited $?"
normalize < "$TMP/out" > "$TMP/norm"
golden profile_show.txt "$TMP/norm"
"$MOETIER" profile show --json --expect-id test-moe-0123456789abcdef "$prof" > "$TMP/json" ||
    fail "profile show --json exited $?"
json_ok "$TMP/json"
normalize < "$TMP/json" > "$TMP/norm.json"
golden profile_show.json "$TMP/norm.json"
grep -q '"tier"' "$TMP/json" && fail "a profile's experts have no tier"
echo "PASS: $test_name"
