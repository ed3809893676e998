#!/usr/bin/env bash
# Deploys from a CI job with qdeploy (docs/ci.md): installs it, puts the deploy key and the
# hosts' known_hosts lines from the job's secrets where ssh looks, pushes, and writes a
# summary. Copy it into your repository; GitHub Actions: examples/ci/github-actions.yml.
#
#   deploy.sh ENV [push options]      e.g. deploy.sh prod, deploy.sh prod --hosts web-1
#
# From the job's environment:
#   QDEPLOY_SSH_KEY       the deploy key: a private key's text (required)
#   QDEPLOY_KNOWN_HOSTS   the hosts' known_hosts lines, checked once by you (required: no
#                         host key is trusted on first use)
#   QDEPLOY_AGE_KEY       the age identity the secrets are encrypted to (qdeploy reads it)
#   QDEPLOY_PACKAGE       what npm installs: "qdeploy" (default), a version, or a .tgz
#   GITHUB_STEP_SUMMARY   where the Markdown summary goes (GitHub Actions sets it)
#
# Exit status: qdeploy's. 0: the release is live on every host; otherwise nothing switched
# that did not pass its health check, and the live release keeps serving.
set -euo pipefail
env=${1:?usage: deploy.sh ENV [push options]}
shift
: "${QDEPLOY_SSH_KEY:?set QDEPLOY_SSH_KEY to the deploy key (a CI secret)}"
: "${QDEPLOY_KNOWN_HOSTS:?set QDEPLOY_KNOWN_HOSTS to the hosts known_hosts lines (ssh-keyscan HOST, checked, stored as a CI secret)}"

prefix=${RUNNER_TEMP:-${TMPDIR:-/tmp}}/qdeploy-ci
npm install -g --prefix "$prefix" --no-audit --no-fund --loglevel=error "${QDEPLOY_PACKAGE:-qdeploy}" >&2
qdeploy=$prefix/bin/qdeploy
"$qdeploy" version >&2

# Where ssh and qdeploy look by default (deploy.toml's [ssh] may name other files).
mkdir -p ~/.ssh
chmod 700 ~/.ssh
(umask 077 && printf '%s\n' "$QDEPLOY_SSH_KEY" > ~/.ssh/id_ed25519)
printf '%s\n' "$QDEPLOY_KNOWN_HOSTS" >> ~/.ssh/known_hosts

report=$(mktemp)
status=0
"$qdeploy" push "$env" --json "$@" > "$report" || status=$?

# The summary, from the JSON (node: npm brought it).
node - "$report" "$env" "$status" <<'JS' | tee -a "${GITHUB_STEP_SUMMARY:-/dev/null}"
const [file, env, status] = process.argv.slice(2);
let r;
try { r = JSON.parse(require("fs").readFileSync(file, "utf8")); } catch { r = { ok: false, error: { message: "qdeploy printed no report" } }; }
if (status === "0" && r.release) {
  console.log(`### qdeploy push ${env}: ${r.release} live`);
  console.log(`${r.hosts.length} host(s) in ${r.seconds.total.toFixed(1)} s (build ${r.seconds.build.toFixed(1)} s)\n`);
  console.log("| host | outcome | live | sent |\n|---|---|---|---|");
  for (const h of r.hosts) console.log(`| ${h.label} | ${h.outcome} | ${h.live ?? "none"} | ${h.bytesSent} B |`);
  for (const u of r.urls ?? []) console.log(`\n${u}`);
} else {
  console.log(`### qdeploy push ${env}: failed (exit ${status})`);
  console.log("\nWhat did not pass its health check never took traffic: the live release keeps serving.\n");
  console.log("```\n" + (r.error?.message ?? JSON.stringify(r)) + (r.error?.hint ? `\n${r.error.hint}` : "") + "\n```");
}
JS
rm -f "$report"
exit "$status"
