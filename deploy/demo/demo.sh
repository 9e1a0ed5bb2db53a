#!/usr/bin/env bash
# Runs the demo: a Mosquitto broker on a free loopback port, the reference
# platform and guichetd with simulated hardware, until Ctrl-C, which stops
# all three cleanly. State is kept in var/demo between runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
STATE=${STATE:-$ROOT/var/demo}
UI_PORT=${UI_PORT:-8080}
BIN=${BIN:-$ROOT/bin}
mkdir -p "$STATE/broker" "$STATE/platform" "$STATE/device"

free_port() {
  local p
  for p in $(seq "$1" $(($1 + 200))); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "no free port from $1" >&2; exit 1
}
if (exec 3<>"/dev/tcp/127.0.0.1/$UI_PORT") 2>/dev/null; then
  echo "demo: port $UI_PORT is in use; stop what uses it or run: make demo UI_PORT=8081" >&2
  exit 1
fi
MQTT_PORT=$(free_port 18830)
ADMIN_PORT=$(free_port 18090)

# The simulated camera plays the demo frames: a customer's payment code.
CODE_READERS="[]"
if [ -d "$ROOT/deploy/demo/frames" ] && [ "${DEMO_CAMERA:-1}" = 1 ]; then
  CODE_READERS="[{driver: camera, options: {camera: folder, camera_options: {path: \"$ROOT/deploy/demo/frames\", fps: 2}, dedupe: 30s}}]"
fi
# The e-ID counter: the simulated card reader holds a citizen's card and the
# simulated face camera plays the same person turning the head, both made
# from the ORL face set in the shared test data. The QR verifier trusts a
# demo platform root made by "guichet eid issue".
SHARED=${GUICHET_SHARED:-$ROOT/../shared}
CARD_READER="{}"
FACE_CAMERA="{}"
EID="{}"
mkdir -p "$STATE/eid-issuer"
"$BIN/guichet" eid issue --dir "$STATE/eid-issuer" --level full > "$STATE/eid-code.txt"
if [ -d "$SHARED/testdata/faces/orl" ] && [ "${DEMO_EID:-1}" = 1 ]; then
  rm -rf "$STATE/faces"
  "$BIN/guichet" face scene --orl "$SHARED/testdata/faces/orl" --subject 5 --out "$STATE/faces" --photo "$STATE/card-photo.png" > /dev/null
  [ -s "$STATE/device/subject.key" ] || head -c 32 /dev/urandom > "$STATE/device/subject.key"
  CARD_READER="{driver: sim, options: {photo: \"$STATE/card-photo.png\", delay: 1s, card: {kind: cn-resident, name: DEMO CITIZEN, id_number: \"110101199003078515\", issuer: DEMO PSB, verified: true}}}"
  FACE_CAMERA="{driver: folder, options: {path: \"$STATE/faces\", fps: 8}}"
  EID="{counter: true, subject_key_file: \"$STATE/device/subject.key\", challenge: turn_left, frame_rate: 8, root_key: \"$STATE/eid-issuer/root.pem\"}"
else
  EID="{root_key: \"$STATE/eid-issuer/root.pem\"}"
fi
fill() {
  sed -e "s#{{STATE}}#$STATE#g" -e "s#{{MQTT_PORT}}#$MQTT_PORT#g" -e "s#{{UI_PORT}}#$UI_PORT#g" \
      -e "s#{{ADMIN_PORT}}#$ADMIN_PORT#g" -e "s#{{DATA}}#$STATE/broker#g" -e "s#{{PORT}}#$MQTT_PORT#g" \
      -e "s#{{CODE_READERS}}#$CODE_READERS#g" -e "s#{{CARD_READER}}#$CARD_READER#g" -e "s#{{FACE_CAMERA}}#$FACE_CAMERA#g" \
      -e "s#{{EID}}#$EID#g" "$1" > "$2"
}
fill deploy/mosquitto/guichet.conf.tmpl "$STATE/mosquitto.conf"
fill deploy/demo/platform.yaml.tmpl "$STATE/platform.yaml"
fill deploy/demo/guichetd.yaml.tmpl "$STATE/guichetd.yaml"

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "demo: stopping"
  # guichetd first, so nothing is sent to a platform already gone.
  for (( i=${#pids[@]}-1; i>=0; i-- )); do kill -TERM "${pids[$i]}" 2>/dev/null || true; wait "${pids[$i]}" 2>/dev/null || true; done
  echo "demo: stopped"
  exit 0
}
trap stop INT TERM EXIT

MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
"$MOSQUITTO" -c "$STATE/mosquitto.conf" > "$STATE/mosquitto.log" 2>&1 &
pids+=($!)
"$BIN/guichet-platform" --config "$STATE/platform.yaml" pubkey > /dev/null
DEVICE_KEY=$("$BIN/guichet" --config "$STATE/guichetd.yaml" keygen)
"$BIN/guichet-platform" --config "$STATE/platform.yaml" enrol --tenant demo-shop --device demo-till-1 --key "$DEVICE_KEY"
"$BIN/guichet-platform" --config "$STATE/platform.yaml" run 2> "$STATE/platform.log" &
pids+=($!)
"$BIN/guichetd" --config "$STATE/guichetd.yaml" 2> "$STATE/guichetd.log" &
pids+=($!)
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$UI_PORT") 2>/dev/null && break; sleep 0.1; done
if ! (exec 3<>"/dev/tcp/127.0.0.1/$UI_PORT") 2>/dev/null; then
  echo "demo: guichetd did not start; its log:" >&2; cat "$STATE/guichetd.log" >&2; exit 1
fi
# The demo official, and the e-ID lists pushed by the platform as it would.
EID_MSG="    e-ID verification http://127.0.0.1:$UI_PORT/verify.html   (a code to paste: $STATE/eid-code.txt)"
if grep -q 'counter: true' "$STATE/guichetd.yaml"; then
  printf '246810\n' | "$BIN/guichet" --config "$STATE/guichetd.yaml" official set-pin --id demo-official > /dev/null
  EID_MSG="    e-ID counter      http://127.0.0.1:$UI_PORT/eid.html   (official demo-official, PIN 246810)
$EID_MSG"
fi
# As the device's retained configuration, so that it arrives whenever the
# device subscribes, even if it has not yet when this runs.
printf '{"eid":{"keyset":"%s","revocations":"%s"}}' "$(base64 -w0 "$STATE/eid-issuer/keyset.cose")" "$(base64 -w0 "$STATE/eid-issuer/revocations.cose")" > "$STATE/device-config.json"
"$BIN/guichet-platform" --config "$STATE/platform.yaml" push --tenant demo-shop --device demo-till-1 --name config --retain --wait=false --args-file "$STATE/device-config.json" > /dev/null
cat <<MSG

  guichet demo is running.
    cashier screen    http://127.0.0.1:$UI_PORT/
    customer screen   http://127.0.0.1:$UI_PORT/customer.html
    status            http://127.0.0.1:$UI_PORT/status.html
$EID_MSG
    broker            tcp://127.0.0.1:$MQTT_PORT
  Try a payment code such as 134567890123456780 (WeChat Pay-style, approved)
  or 134567890123456789 (declined by the platform's rules); from a shell:
    bin/guichet --config $STATE/guichetd.yaml pay --amount 12.34 --code 134567890123456780
  Logs: $STATE/*.log.   Ctrl-C stops everything.

MSG
wait -n "${pids[@]}" || true
echo "demo: a process exited; see the logs in $STATE" >&2
exit 1
