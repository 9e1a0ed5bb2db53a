#!/usr/bin/env bash
# Runs the demo: the site's Mosquitto (mutual TLS, deploy/mosquitto/site.conf)
# and its provisioning broker (provision.conf) on free loopback ports, the
# reference platform and guichetd with simulated hardware, until Ctrl-C,
# which stops them all cleanly. The till is enrolled as a technician would
# enrol a blank box: a one-time code from the platform, then
# `guichet provision`. State is kept in var/demo between runs.
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
PROV_PORT=$(free_port $((MQTT_PORT + 1)))
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
      -e "s#{{EID}}#$EID#g" -e "s#{{PROV_PORT}}#$PROV_PORT#g" "$1" > "$2"
}
fill deploy/demo/platform.yaml.tmpl "$STATE/platform.yaml"
fill deploy/demo/guichetd.yaml.tmpl "$STATE/guichetd.yaml"

# The site's certificates, from the platform's CA (made at first use): the
# brokers', the platform's own and the provisioning bridge's; then the
# revocation list the broker reads. The platform's configuration names its
# certificate only once it exists, so these run on a copy without it.
CERTS=$STATE/certs
mkdir -p "$CERTS"
sed '/^  ca: \|^  cert: \|^  key: /d' "$STATE/platform.yaml" > "$STATE/platform-ca.yaml"
PLATCA=("$BIN/guichet-platform" --config "$STATE/platform-ca.yaml")
[ -s "$CERTS/broker.pem" ] || "${PLATCA[@]}" ca broker-cert --host 127.0.0.1 --out "$CERTS" > /dev/null
[ -s "$CERTS/guichet-platform-p1.pem" ] || "${PLATCA[@]}" ca platform-cert --out "$CERTS" > /dev/null
# `push` below is a second platform client: on a broker where the
# certificate's CN is the client id, it needs its own (p2), or each would
# close the other's connection.
sed -e 's/^instance: p1/instance: p2/' -e 's/guichet-platform-p1\./guichet-platform-p2./' "$STATE/platform.yaml" > "$STATE/platform-push.yaml"
sed 's/^instance: p1/instance: p2/' "$STATE/platform-ca.yaml" > "$STATE/platform-ca-p2.yaml"
[ -s "$CERTS/guichet-platform-p2.pem" ] || "$BIN/guichet-platform" --config "$STATE/platform-ca-p2.yaml" ca platform-cert --out "$CERTS" > /dev/null
[ -s "$CERTS/guichet-provision-bridge.pem" ] || "${PLATCA[@]}" ca client-cert --cn guichet-provision-bridge --out "$CERTS" > /dev/null
CRL=$("${PLATCA[@]}" ca crl)
# The shipped broker configurations, with only ports, paths and the
# process's user replaced (as internal/brokertest does).
site() {
  { echo "user root"; sed -e "s#/etc/guichet/ca.pem#$CERTS/ca.pem#" -e "s#/etc/guichet/crl.pem#$CRL#" \
      -e "s#/etc/mosquitto/certs/provision-bridge#$CERTS/guichet-provision-bridge#" \
      -e "s#/etc/mosquitto/certs/#$CERTS/#" -e "s#/etc/mosquitto/#$ROOT/deploy/mosquitto/#" \
      -e "s#/var/lib/mosquitto/#$STATE/broker/#" -e "s#^listener 8883#listener $MQTT_PORT 127.0.0.1#" \
      -e "s#^listener 8884#listener $PROV_PORT 127.0.0.1#" -e "s#^address 127.0.0.1:8883#address 127.0.0.1:$MQTT_PORT#" "$1"
    echo "log_type error"; echo "log_type warning"; echo "log_type notice"; } > "$2"
}
site deploy/mosquitto/site.conf "$STATE/mosquitto.conf"
site deploy/mosquitto/provision.conf "$STATE/provision.conf"

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
"$MOSQUITTO" -c "$STATE/provision.conf" > "$STATE/provision.log" 2>&1 &
pids+=($!)
"$BIN/guichet-platform" --config "$STATE/platform.yaml" run 2> "$STATE/platform.log" &
pids+=($!)
# The technician's two steps for a blank box: a one-time code on the
# platform, then `guichet provision` on the box (its key is made there, in
# the TPM when it has one). A box enrolled by an earlier run keeps its
# enrolment.
waitlog() {
  for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return; sleep 0.1; done
  echo "demo: no \"$2\" in $1 after 20 s:" >&2; cat "$1" >&2; exit 1
}
# A request is answered only by a platform already subscribed, through a
# bridge already up.
waitlog "$STATE/platform.log" "platform connected"
waitlog "$STATE/mosquitto.log" " as guichet-provision-bridge "
if [ ! -s "$STATE/device/enrolment/binding.json" ]; then
  CODE=$("$BIN/guichet-platform" --config "$STATE/platform.yaml" enrol-code --tenant demo-shop --site shop-001 --role till | head -n1)
  "$BIN/guichet" --config "$STATE/guichetd.yaml" provision --code "$CODE" --broker "ssl://127.0.0.1:$PROV_PORT" \
    --ca "$CERTS/ca.pem" --device demo-till-1
fi
"$BIN/guichetd" --config "$STATE/guichetd.yaml" 2> "$STATE/guichetd.log" &
pids+=($!)
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$UI_PORT") 2>/dev/null && break; sleep 0.1; done
if ! (exec 3<>"/dev/tcp/127.0.0.1/$UI_PORT") 2>/dev/null; then
  echo "demo: guichetd did not start; its log:" >&2; cat "$STATE/guichetd.log" >&2; exit 1
fi
# The demo's cashier and supervisor, enrolled over the daemon's socket as
# a technician would (the PIN on standard input, never on the command line).
G=("$BIN/guichet" --config "$STATE/guichetd.yaml")
"${G[@]}" cashier list | grep -q '^demo-cashier ' || printf '135790\n' | "${G[@]}" cashier add --id demo-cashier --name "Demo cashier" > /dev/null
"${G[@]}" cashier list | grep -q '^demo-supervisor ' || printf '975310\n' | "${G[@]}" cashier add --id demo-supervisor --name "Demo supervisor" --role supervisor > /dev/null
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
"$BIN/guichet-platform" --config "$STATE/platform-push.yaml" push --tenant demo-shop --device demo-till-1 --name config --retain --wait=false --args-file "$STATE/device-config.json" > /dev/null
# The customer's wallet for the shop's QR code: pays the order whose
# reference the cashier's screen shows, and the platform notifies the till.
cat > "$STATE/pay-qr" <<SH
#!/bin/sh
# Usage: pay-qr REF   (the reference shown on the cashier's screen, Q...)
exec "$BIN/guichet-platform" --config "$STATE/platform-push.yaml" wallet pay "\$@"
SH
chmod +x "$STATE/pay-qr"
cat <<MSG

  guichet demo is running.
    cashier screen    http://127.0.0.1:$UI_PORT/   (cashier demo-cashier, PIN 135790;
                      refunds, voids and closing the day: supervisor demo-supervisor, PIN 975310)
    customer screen   http://127.0.0.1:$UI_PORT/customer.html
    status            http://127.0.0.1:$UI_PORT/status.html
$EID_MSG
    broker            ssl://127.0.0.1:$MQTT_PORT (mutual TLS), provisioning ssl://127.0.0.1:$PROV_PORT
  Try a payment code such as 134567890123456780 (WeChat Pay-style, approved)
  or 134567890123456789 (declined by the platform's rules); from a shell:
    bin/guichet --config $STATE/guichetd.yaml pay --amount 12.34 --code 134567890123456780
    echo 975310 | bin/guichet --config $STATE/guichetd.yaml close-day --supervisor demo-supervisor
  "Show the shop's QR" makes an order; pay it as the customer's wallet would with
    $STATE/pay-qr REF      (REF is on the cashier's screen: Q...)
  Logs: $STATE/*.log.   Ctrl-C stops everything.

MSG
wait -n "${pids[@]}" || true
echo "demo: a process exited; see the logs in $STATE" >&2
exit 1
