#!/bin/bash
# shellcheck disable=SC2016,SC2154
# First-boot script of the API instance, a template rendered by Terraform's templatefile().
# Template values are Terraform interpolations (a dollar sign, then the name in braces), filled
# in before bash runs: hence the two directives above, as they sit in single quotes on purpose
# (SC2016) and are never assigned (SC2154). Bash variables are written $name, never with
# braces, so none needs Terraform's escape (a doubled dollar sign).
# Never echo the API key: this log is readable on the instance.
set -euo pipefail
exec > >(tee -a /var/log/user-data.log) 2>&1
echo "user-data: start $(date -u +%Y-%m-%dT%H:%M:%SZ)"

# 1. Dead man's switch, armed before anything that can fail: the instance powers off at a
# deadline fixed on first boot, and instance_initiated_shutdown_behavior = "terminate" turns
# the power-off into a termination. Running this again (or after a reboot, through the unit
# below) keeps the first deadline instead of pushing it back.
install -d -m 0755 /var/lib/dead-mans-switch
cat > /usr/local/sbin/dead-mans-switch <<'SWITCH'
#!/bin/bash
set -euo pipefail
deadline_file=/var/lib/dead-mans-switch/deadline
if [[ ! -s $deadline_file ]]; then
  echo $(($(date +%s) + ${ttl_minutes} * 60)) > "$deadline_file"
fi
deadline=$(< "$deadline_file")
minutes_left=$(((deadline - $(date +%s) + 59) / 60))
if ((minutes_left < 1)); then
  shutdown -h now "dead man's switch: time to live is over"
else
  shutdown -h "+$minutes_left" "dead man's switch: time to live is over"
fi
SWITCH
chmod 0755 /usr/local/sbin/dead-mans-switch
/usr/local/sbin/dead-mans-switch
cat > /etc/systemd/system/dead-mans-switch.service <<'UNIT'
[Unit]
Description=Re-arm the dead man's switch after a reboot
After=systemd-logind.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/dead-mans-switch

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable dead-mans-switch.service
echo "user-data: dead man's switch armed for ${ttl_minutes} minutes after first boot"

# 2. The application, replaced as a whole on each run. It is too big for user data (16 KB at
# most), so the harness sends it once the instance is up: PUT /app-bundle on port 5000, the
# only port the security group opens, from the allowed addresses only. Only the bytes whose
# SHA-256 this script was given are taken; anything else is refused and the wait goes on.
python3 - '${bundle_sha256}' /opt/app.tar.gz <<'RECEIVER'
import hashlib, http.server, json, sys

expected, target = sys.argv[1], sys.argv[2]
limit = 16 * 1024 * 1024


class Receiver(http.server.BaseHTTPRequestHandler):
    timeout = 30  # a client that stalls cannot hold the only thread for ever
    received = False

    def answer(self, status, document=None):
        body = json.dumps(document).encode() if document is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path != "/app-bundle":
            return self.answer(404, {"detail": "the instance is waiting for its application"})
        self.answer(200, {"sha256": expected})

    def do_PUT(self):
        if self.path != "/app-bundle":
            return self.answer(404, {"detail": "the instance is waiting for its application"})
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= limit:
            return self.answer(400, {"detail": "the application is 1 byte to 16 MiB"})
        body = self.rfile.read(length)
        if hashlib.sha256(body).hexdigest() != expected:
            return self.answer(400, {"detail": "not the application this instance waits for"})
        with open(target, "wb") as handle:
            handle.write(body)
        Receiver.received = True
        self.answer(204)

    def log_message(self, format, *args):
        print("user-data: receiver: " + format % args, flush=True)


server = http.server.HTTPServer(("0.0.0.0", 5000), Receiver)
while not Receiver.received:
    server.handle_request()
server.server_close()
RECEIVER
echo "user-data: application received"

# 3. Docker, and tar and gzip to unpack the application (not in every Amazon Linux 2023 image),
# from Amazon Linux 2023's own repository (dnf is idempotent).
dnf install -y docker tar gzip
systemctl enable --now docker
rm -rf /opt/app
install -d -m 0755 /opt/app
tar -xzf /opt/app.tar.gz -C /opt/app

# 4. The API key, in a file only root reads, never on a command line.
install -d -m 0700 /etc/app
(
  umask 077
  printf 'API_KEY=%s\n' '${api_key}' > /etc/app/api.env
)
chmod 0600 /etc/app/api.env

# 5. Image and container; an old container of the same name is replaced, the volume kept.
# The base image comes from Amazon's public ECR mirror of Docker Hub's official images, which
# sets no anonymous pull limit per address (Docker Hub does, and EC2 addresses are shared).
docker build --tag '${image}' --build-arg 'BASE_IMAGE=${base_image}' \
  --label 'Project=${project}' --label 'RunId=${run_id}' --label 'ManagedBy=${managed_by}' /opt/app
docker rm -f api > /dev/null 2>&1 || true
docker volume create --label 'Project=${project}' --label 'RunId=${run_id}' \
  --label 'ManagedBy=${managed_by}' api-data > /dev/null
docker run --detach --name api --restart unless-stopped \
  --read-only --tmpfs /tmp \
  --publish 5000:5000 \
  --volume api-data:/data \
  --env DATABASE_PATH=/data/logs.db \
  --env-file /etc/app/api.env \
  --label 'Project=${project}' --label 'RunId=${run_id}' --label 'ManagedBy=${managed_by}' \
  '${image}'

# 6. Wait for the service, so that the log says whether the boot worked.
for _ in $(seq 1 60); do
  if curl --silent --fail --max-time 2 http://127.0.0.1:5000/health > /dev/null; then
    echo "user-data: API healthy $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    exit 0
  fi
  sleep 2
done
echo "user-data: API not healthy after 120 s; see: docker logs api" >&2
docker logs --tail 50 api >&2 || true
exit 1
