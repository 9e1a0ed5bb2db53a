#!/usr/bin/env bash
# Runs the demo: a Mosquitto broker on a free loopback port, the reference
# platform and guichetd with simulated hardware, until Ctrl-C, which stops
# all three cleanly. State is kept in var/demo between runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
STATE=${STATE:-$ROOT/var/demo}
UI_PORT=${UI_PORT:-8080}
BIN=$ROOT/bin
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
fill() {
  sed -e "s#{{STATE}}#$STATE#g" -e "s#{{MQTT_PORT}}#$MQTT_PORT#g" -e "s#{{UI_PORT}}#$UI_PORT#g" \
      -e "s#{{ADMIN_PORT}}#$ADMIN_PORT#g" -e "s#{{DATA}}#$STATE/broker#g" -e "s#{{PORT}}#$MQTT_PORT#g" \
      -e "s#{{CODE_READERS}}#$CODE_READERS#g" "$1" > "$2"
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
cat <<MSG

  guichet demo is running.
    cashier screen    http://127.0.0.1:$UI_PORT/
    customer screen   http://127.0.0.1:$UI_PORT/customer.html
    status            http://127.0.0.1:$UI_PORT/status.html
    broker            tcp://127.0.0.1:$MQTT_PORT
  Try a payment code such as 134567890123456780 (WeChat Pay-style, approved)
  or 134567890123456789 (declined by the platform's rules); from a shell:
    bin/guichet --config $STATE/guichetd.yaml pay --amount 12.34 --code 134567890123456780
  Logs: $STATE/*.log.   Ctrl-C stops everything.

MSG
wait -n "${pids[@]}" || true
echo "demo: a process exited; see the logs in $STATE" >&2
exit 1
