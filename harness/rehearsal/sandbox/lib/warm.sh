#!/bin/bash
# Run by the harness as the "user data" of a sandbox whose engine state is a cache volume:
# builds the builder stage of the service's image (the pip install that takes most of a first
# boot), then stops the engine cleanly, so that a later sandbox starting from a copy of this
# volume finds those layers and rebuilds only what the tree changed. The build context (the
# Dockerfile and requirements.txt) is in /var/lib/rehearsal/warm.
set -euo pipefail
dnf install -y docker > /dev/null
systemctl start docker
read -r _ alias < /var/lib/rehearsal/images/aliases
docker build --quiet --target builder --build-arg "BASE_IMAGE=${alias}" /var/lib/rehearsal/warm
pkill -TERM -x dockerd
while pgrep -x dockerd > /dev/null; do sleep 0.2; done
touch /var/lib/docker/.rehearsal-warm
