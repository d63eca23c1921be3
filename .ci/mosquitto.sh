#!/usr/bin/env bash
# Makes sure an MQTT broker (Mosquitto) answers on 127.0.0.1:1883 for the
# MQTT intake tests: installs and starts it only when nothing listens there.
set -euo pipefail

up() { (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; }

if up; then
  echo "an MQTT broker answers on 127.0.0.1:1883"
  exit 0
fi
if ! command -v mosquitto >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mosquitto
fi
# A private instance on loopback, anonymous (the tests' topics are their own).
conf="$(mktemp -d)/mosquitto.conf"
printf 'listener 1883 127.0.0.1\nallow_anonymous true\npersistence false\n' > "$conf"
mosquitto -d -c "$conf"
for _ in $(seq 1 50); do
  up && { echo "mosquitto started on 127.0.0.1:1883"; exit 0; }
  sleep 0.2
done
echo "mosquitto did not start" >&2
exit 1
