#!/usr/bin/env bash
# Check calcification-patient-view in a local build of the CDS Hooks sandbox, offline.
#
#   deploy/sandbox_check.sh SANDBOX_BUILD_DIR [PATIENT_ID [EXPECTED_SUMMARY_PREFIX]]
#
# SANDBOX_BUILD_DIR is the folder the sandbox's own `npm run build` wrote (it holds index.html,
# app.bundle.js and .well-known/jwks.json). This script neither contains nor downloads sandbox
# code; build it yourself outside the project (docs/sandbox.md §1).
#
# It starts, all on 127.0.0.1 and all stopped on exit:
#   - the build folder as static files on $SANDBOX_PORT (8090),
#   - the FHIR test server (../shared/tools/fhir-server) on $FHIR_PORT (8092), loaded with the
#     patient-view fixture scenarios with their dates moved to now,
#   - `cds-service serve` on $SERVICE_PORT (8091) with a TEST-ONLY clients file trusting the
#     sandbox's public key (taken from the build's .well-known/jwks.json), a temporary SQLite
#     audit store, CDS_CORS_ORIGINS = the sandbox origin, CDS_PUBLIC_BASE_URL = the service URL;
# then opens the sandbox in headless Chromium (fresh profile, no name resolution except
# loopback) and asserts that a rendered card's summary contains the expected text.
# "No recommendations to display" is also what a failed call looks like, so only the card text
# counts as a pass.
#
# Default patient: pv6-patient (fhir_fixtures/patient-view-sandbox); its expected summary is
# computed from the fixture. For another patient give the expected summary (or a part of it).
#
# Optional feedback round trip: with PLAYWRIGHT_CORE_DIR set to a folder holding
# node_modules/playwright-core (installed OUTSIDE the project), the script also presses the
# card's Dismiss button, checks that the service stored the feedback (`cds-service audit export`)
# and that reopening the patient gives no card (outcome "suppressed").
#
# Environment: PROJECT (default: this script's repository), SHARED (default: $PROJECT/../shared),
# CHROMIUM (default: chromium), SANDBOX_PORT, SERVICE_PORT, FHIR_PORT, OUT (default: a new temp
# folder; screenshots, page dumps and logs are kept there), KEEP_RUNNING=1 (leave the servers up
# until Enter is pressed, to look at the page in a browser).
# Exit status: 0 pass, 1 check failed, 2 usage or setup error.
set -euo pipefail

usage() { sed -n '2,4p' "$0" >&2; exit 2; }
[ $# -ge 1 ] || usage
BUILD=$(cd "$1" 2>/dev/null && pwd) || { echo "no such folder: $1" >&2; exit 2; }
PATIENT=${2:-pv6-patient}
EXPECT=${3:-}

PROJECT=${PROJECT:-$(cd "$(dirname "$0")/.." && pwd)}
SHARED=${SHARED:-$(cd "$PROJECT/../shared" 2>/dev/null && pwd || echo "$PROJECT/../shared")}
CHROMIUM=${CHROMIUM:-chromium}
SANDBOX_PORT=${SANDBOX_PORT:-8090}
SERVICE_PORT=${SERVICE_PORT:-8091}
FHIR_PORT=${FHIR_PORT:-8092}
OUT=${OUT:-$(mktemp -d -t sandbox-check.XXXXXX)}
PY="$PROJECT/.venv/bin/python"
CDS="$PROJECT/.venv/bin/cds-service"

SANDBOX_URL="http://127.0.0.1:$SANDBOX_PORT"
SERVICE_URL="http://127.0.0.1:$SERVICE_PORT"
FHIR_URL="http://127.0.0.1:$FHIR_PORT/fhir/R4"
RESOLVER_RULES="MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"

die() { echo "sandbox_check: $*" >&2; exit 2; }
fail() { echo "FAIL: $*" >&2; exit 1; }

case "$BUILD" in "$PROJECT"|"$PROJECT"/*) die "the sandbox build must live outside the project ($BUILD)";; esac
[ -f "$BUILD/index.html" ] && [ -f "$BUILD/app.bundle.js" ] || die "$BUILD has no index.html/app.bundle.js: not a sandbox build"
[ -f "$BUILD/.well-known/jwks.json" ] || die "$BUILD/.well-known/jwks.json missing (the sandbox's public key)"
[ -x "$CDS" ] || die "no $CDS (create the venv and install the project)"
command -v node >/dev/null || die "node not found (the FHIR test server needs Node >= 20.19)"
command -v "$CHROMIUM" >/dev/null || die "$CHROMIUM not found (Debian: apt-get install -y chromium)"
command -v curl >/dev/null || die "curl not found"
for port in "$SANDBOX_PORT" "$SERVICE_PORT" "$FHIR_PORT"; do
  if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; then die "port $port is already in use"; fi
done
mkdir -p "$OUT"
echo "output folder: $OUT"

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 2' INT TERM

wait_for() {  # URL what
  for _ in $(seq 1 60); do
    if curl -sf -o /dev/null --max-time 1 "$1"; then return 0; fi
    sleep 0.5
  done
  die "$2 did not come up at $1 (logs in $OUT)"
}

# ---- 1. fixtures dated now, and the expected summary of the default patient
"$PY" - "$OUT/fhir" "$OUT/expected.txt" <<'EOF'
import sys
from datetime import UTC, datetime
from pathlib import Path
from cds_service.fixtures import load_scenario, load_scenarios, materialise_bundles

now = datetime.now(UTC)
materialise_bundles(load_scenarios(now, hook="patient-view"), Path(sys.argv[1]))
sandbox = load_scenario("patient-view-sandbox", now)
report = next(r for r in sandbox.resources() if r["id"] == "pv6-report-foot")
day = report["effectiveDateTime"][:10]
Path(sys.argv[2]).write_text(
    "Non-specific soft-tissue calcification L foot: consider ultrasound or CT "
    f"(report of {day})", encoding="utf-8")
EOF
if [ -z "$EXPECT" ]; then
  [ "$PATIENT" = pv6-patient ] || die "give the expected summary for $PATIENT as the third argument"
  EXPECT=$(cat "$OUT/expected.txt")
fi
echo "expecting a card whose summary contains: $EXPECT"

# ---- 2. the clients file: the sandbox's key from the build, TEST CONFIGURATION ONLY
"$PY" - "$BUILD/.well-known/jwks.json" "$OUT/clients.sandbox-test.yaml" "$FHIR_URL" <<'EOF'
import json, sys
from pathlib import Path
jwks = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
known = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
kids = [k.get("kid") for k in jwks.get("keys", [])]
if known not in kids:
    print(f"note: the build's key ids {kids} differ from the documented {known}", file=sys.stderr)
clients = {"clients": [{
    "issuer": "https://sandbox.cds-hooks.org",
    "jwks": jwks,
    "jku_allowed": ["https://sandbox.cds-hooks.org/.well-known/jwks.json"],
    "fhir_servers": [sys.argv[3]],
}]}
Path(sys.argv[2]).write_text(
    "# TEST CONFIGURATION ONLY: the sandbox's private key is public.\n" + json.dumps(clients, indent=2),
    encoding="utf-8")  # JSON is YAML
EOF

# ---- 3. the three servers
FHIR_DIR=$(python3 "$SHARED/tools/fhir-server/fhir_server.py" --install) || die "FHIR test server install failed"
python3 -m http.server "$SANDBOX_PORT" --bind 127.0.0.1 --directory "$BUILD" >"$OUT/static.log" 2>&1 &
PIDS+=($!)
node "$FHIR_DIR/server.js" --host 127.0.0.1 --port "$FHIR_PORT" --data "$OUT/fhir" --log \
  >"$OUT/fhir.out" 2>"$OUT/fhir.log" &
PIDS+=($!)
CDS_CLIENTS_FILE="$OUT/clients.sandbox-test.yaml" \
CDS_CORS_ORIGINS="$SANDBOX_URL" \
CDS_PUBLIC_BASE_URL="$SERVICE_URL" \
CDS_DATABASE_URL="sqlite:///$OUT/audit.sqlite3" \
  "$CDS" serve --host 127.0.0.1 --port "$SERVICE_PORT" >"$OUT/service.log" 2>&1 &
PIDS+=($!)
wait_for "$SANDBOX_URL/index.html" "static server"
wait_for "$FHIR_URL/metadata" "FHIR server"
wait_for "$SERVICE_URL/readyz" "CDS service"
curl -sf "$FHIR_URL/Patient/$PATIENT" >/dev/null || fail "$PATIENT is not on the FHIR server"

PAGE="$SANDBOX_URL/?fhirServiceUrl=$FHIR_URL&patientId=$PATIENT&serviceDiscoveryURL=$SERVICE_URL/cds-services&hook=patient-view&screen=patient-view"
echo "page: $PAGE"

chromium_run() {  # name, then extra chromium flags; a fresh profile every time
  local name=$1; shift
  rm -rf "$OUT/profile-$name"
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update \
    --host-resolver-rules="$RESOLVER_RULES" --user-data-dir="$OUT/profile-$name" \
    --window-size=1600,1000 --virtual-time-budget=15000 "$@" "$PAGE" 2>>"$OUT/chromium.log"
}

summaries() {  # rendered card summaries of a dumped page, one a line (not the JSON panel)
  "$PY" - "$1" <<'EOF'
import html, re, sys
page = open(sys.argv[1], encoding="utf-8").read()
for m in re.finditer(r'class="[^"]*decision-card[^"]*"[^>]*>\s*<div[^>]*>\s*<p[^>]*>(.*?)</p>', page, re.S):
    print(" ".join(html.unescape(re.sub(r"<[^>]+>", "", m.group(1))).split()))
EOF
}

# ---- 4. render, assert the card text, screenshot
chromium_run dom --dump-dom >"$OUT/page.html" || fail "chromium --dump-dom failed (see $OUT/chromium.log)"
chromium_run shot --screenshot="$OUT/sandbox.png" >/dev/null || fail "chromium --screenshot failed"
summaries "$OUT/page.html" >"$OUT/cards.txt"
echo "cards rendered:"; sed 's/^/  - /' "$OUT/cards.txt"
grep -qF -- "$EXPECT" "$OUT/cards.txt" || {
  grep -o 'No recommendations to display\|Could not get a response[^<]*\|No response returned[^<]*' "$OUT/page.html" | sort -u >&2 || true
  grep -h 'call refused\|"level":"ERROR"' "$OUT/service.log" >&2 || true   # JWT, aud, CORS-side refusals
  fail "no card with the expected summary (service log: $OUT/service.log)"
}
grep -q '"outcome":"cards"' "$OUT/service.log" || fail "the service logged no invocation with cards"
if grep -q 'call refused' "$OUT/service.log"; then
  grep 'call refused' "$OUT/service.log" >&2; fail "the service refused some of the sandbox's calls"
fi
echo "PASS: the card rendered; screenshot $OUT/sandbox.png"

# ---- 5. optional: Dismiss, feedback stored, card gone on reopening
if [ -n "${PLAYWRIGHT_CORE_DIR:-}" ]; then
  [ -d "$PLAYWRIGHT_CORE_DIR/node_modules/playwright-core" ] || die "no playwright-core under $PLAYWRIGHT_CORE_DIR/node_modules"
  cat >"$OUT/dismiss.js" <<'EOF'
const { chromium } = require('playwright-core');
(async () => {
  const [url, profile, shot, executablePath, rules] = process.argv.slice(2);
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath, headless: true, viewport: { width: 1600, height: 1000 },
    args: [`--host-resolver-rules=${rules}`, '--disable-background-networking',
           '--disable-component-update', '--no-first-run', '--no-sandbox'],
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  const feedback = new Promise(res => page.on('response', r => {
    if (r.request().method() === 'POST' && r.url().endsWith('/feedback')) res(r);
  }));
  await page.goto(url);
  const card = page.locator('[class*="decision-card"]').first();
  await card.waitFor({ timeout: 20000 });
  await card.getByRole('button', { name: 'Dismiss', exact: true }).click();
  const r = await Promise.race([feedback, page.waitForTimeout(10000).then(() => null)]);
  if (!r) throw new Error('no feedback call within 10 s');
  const headers = await r.allHeaders();
  console.log(JSON.stringify({ status: r.status(), body: JSON.parse(r.request().postData()),
    reply: await r.text(), allowOrigin: headers['access-control-allow-origin'] || null }));
  await page.waitForTimeout(500);
  await page.screenshot({ path: shot });
  await ctx.close();
})().catch(e => { console.error(String(e)); process.exit(1); });
EOF
  NODE_PATH="$PLAYWRIGHT_CORE_DIR/node_modules" node "$OUT/dismiss.js" "$PAGE" "$OUT/profile-dismiss" \
    "$OUT/dismissed.png" "$(command -v "$CHROMIUM")" "$RESOLVER_RULES" >"$OUT/feedback.json" \
    || fail "dismissing the card failed: $(cat "$OUT/feedback.json")"
  echo "feedback call: $(cat "$OUT/feedback.json")"
  CDS_CLIENTS_FILE="$OUT/clients.sandbox-test.yaml" CDS_DATABASE_URL="sqlite:///$OUT/audit.sqlite3" \
    "$CDS" audit export >"$OUT/audit.ndjson" 2>"$OUT/audit.log"
  "$PY" - "$OUT/feedback.json" "$OUT/audit.ndjson" <<'EOF' || fail "feedback not stored as sent"
import json, sys
sent = json.load(open(sys.argv[1]))
assert sent["status"] == 200 and sent["allowOrigin"], f"feedback answered {sent['status']}, CORS {sent['allowOrigin']}"
card = sent["body"]["feedback"][0]["card"]
records = [json.loads(line) for line in open(sys.argv[2])]
stored = [f for r in records for f in r.get("feedback", []) if f["card"] == card]
assert stored and stored[0]["outcome"] == "overridden", f"audit holds no feedback for card {card}"
print(f"audit: card {card} -> {stored[0]['outcome']} at {stored[0]['receivedAt']}")
EOF
  chromium_run again --dump-dom >"$OUT/page-again.html" || fail "chromium (reopen) failed"
  summaries "$OUT/page-again.html" >"$OUT/cards-again.txt"
  if grep -qF -- "$EXPECT" "$OUT/cards-again.txt"; then fail "the dismissed card came back on reopening"; fi
  grep '"message":"invocation"' "$OUT/service.log" | tail -n 1 | grep -q '"outcome":"suppressed"' || fail "reopening was not logged as suppressed"
  if grep -q 'call refused' "$OUT/service.log"; then
    grep 'call refused' "$OUT/service.log" >&2; fail "the service refused some of the sandbox's calls"
  fi
  echo "PASS: Dismiss reached the audit store and the card stays away on reopening"
fi

if [ "${KEEP_RUNNING:-0}" = 1 ]; then
  read -r -p "servers running; open $PAGE in a browser; press Enter to stop " _ || true
fi
