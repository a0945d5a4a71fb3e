#!/usr/bin/env bash
# Installs the tools the engine does not need to start: the pinned Python tools of infra/requirements-tools.txt
# (ansible, kcli with libvirt-python, the test model, hadolint), and the Debian packages the tests use.
# infra/setup.sh runs it in the foreground (`npm test`, `bash infra/setup.sh --all`), or, under `npm start`,
# in the background while the engine comes up.
#
#   --background      progress goes to .data/setup/status.json (read by `qubinode doctor` and by tasks
#                     that wait for a tool), output to .data/setup/setup.log
#   --build           also compile dist/ (infra/setup-dist.sh --swap), last, once the tools are in
#   --watch-pid PID   stop (and say so in the status) when process PID ends: `npm start` stopped by Ctrl-C
#                     stops what it started
#
# One install at a time (a lock in .data/setup): a second one waits for the first in the foreground, and
# leaves it alone in the background.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

background=0
build=0
watch_pid=
while [ $# -gt 0 ]; do
  case "$1" in
    --background) background=1 ;;
    --build) build=1 ;;
    --watch-pid)
      watch_pid=${2:-}
      [[ "$watch_pid" =~ ^[1-9][0-9]*$ ]] || { echo "setup-tools.sh: --watch-pid needs a process id" >&2; exit 2; }
      shift
      ;;
    *) echo "setup-tools.sh: unknown argument: $1 (expected --background, --build or --watch-pid PID)" >&2; exit 2 ;;
  esac
  shift
done

say() { printf '[setup] %s\n' "$*" >&2; }

# The checkout's own tools, so their status lives in the checkout whatever QUBINODE_DATA_DIR says.
status_dir="$root/.data/setup"
mkdir -p "$status_dir"
status_file="$status_dir/status.json"
venv="$root/.tools/venv"
requirements=infra/requirements-tools.txt
stamp_tools="$venv/.requirements-tools.sha256"

# The lock is held for as long as this script runs (fd 9 stays open in every child).
exec 9>"$status_dir/lock"
if ! flock -n 9; then
  if [ "$background" = 1 ]; then
    say "another tool install is running (see .data/setup/status.json); leaving it to finish"
    exit 0
  fi
  say "waiting for the tool install already running (see .data/setup/status.json)"
  flock 9
fi

# The venv's Python when there is one: it starts at once, where a version manager's shim first looks around.
py=python3
if [ -x "$venv/bin/python" ]; then py="$venv/bin/python"; fi

# status STATE [GROUP GROUP_STATE] [MESSAGE]: rewrites the status file whole (write, then rename), values
# passed as arguments to a small Python writer, never spliced into its code.
status() {
  "$py" - "$status_file" "$$" "$@" <<'PY'
import json, os, sys, time
path, pid, state = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rest = sys.argv[4:]
try:
    with open(path) as f:
        data = json.load(f)
    if data.get('pid') != pid:
        data = {}
except Exception:
    data = {}
now = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
data.setdefault('startedAt', now)
data.update({'version': 1, 'pid': pid, 'state': state, 'updatedAt': now, 'log': os.path.join(os.path.dirname(path), 'setup.log')})
groups = data.setdefault('groups', {})
if len(rest) >= 2:
    groups[rest[0]] = rest[1]
    data['current'] = rest[0] if rest[1] == 'installing' else None
if len(rest) in (1, 3):
    data['message'] = rest[-1]
tmp = f'{path}.{pid}.tmp'
with open(tmp, 'w') as f:
    json.dump(data, f)
os.replace(tmp, path)
PY
}

# In the background a stop of the process that asked for the install stops it too.
run_step() {
  if [ -z "$watch_pid" ]; then
    "$@"
    return
  fi
  "$@" &
  local child=$!
  while kill -0 "$child" 2>/dev/null; do
    if ! kill -0 "$watch_pid" 2>/dev/null; then
      status stopped "the process that started the install (pid $watch_pid) ended; the next npm start resumes it"
      kill -TERM -- -"$$" 2>/dev/null || kill -TERM "$child" 2>/dev/null || true
      exit 143
    fi
    sleep 1
  done
  wait "$child"
}

on_exit() {
  local code=$?
  if [ "$code" != 0 ] && [ -f "$status_file" ] && grep -q '"state": "installing"' "$status_file"; then
    status failed "the install stopped with exit code $code; see .data/setup/setup.log"
  fi
}
trap on_exit EXIT

rm -f "$status_file"
status installing

pip_install() { "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"; }

# Pinned lines of the requirements file whose package name matches a pattern (names as pip spells them).
pins() { grep -E "^($1)==" "$requirements" || true; }

wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ -f "$stamp_tools" ] && [ "$(cat "$stamp_tools")" = "$wanted" ]; then
  for group in ansible kcli model other; do status installing "$group" "done"; done
else
  # Groups in the order a first run is likeliest to need them: ansible, then kcli, then the test model.
  complete=1
  install_group() {
    local group=$1 pattern=$2 list
    list=$(pins "$pattern")
    if [ -z "$list" ]; then status installing "$group" "done"; return; fi
    say "installing $group ($(echo "$list" | tr '\n' ' '))"
    status installing "$group" installing
    local file
    file=$(mktemp)
    echo "$list" > "$file"
    if run_step pip_install -r "$file"; then status installing "$group" "done"; else status installing "$group" failed; complete=0; fi
    rm -f "$file"
  }
  install_group ansible 'ansible-core|ansible-navigator'

  # libvirt-python (needed by kcli) compiles against libvirt-dev: install it when we can (root + apt),
  # otherwise skip libvirt-python and kcli rather than fail, and say so (`qubinode doctor` reports it).
  if ! pkg-config --exists libvirt 2>/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing libvirt-dev, pkg-config and gcc (apt) to build libvirt-python"
    status installing kcli installing
    # A new machine's package lists may be empty or stale: update once and try again.
    run_step bash -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libvirt-dev pkg-config gcc >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libvirt-dev pkg-config gcc >/dev/null; }' ||
      say "apt-get install libvirt-dev failed"
  fi
  if pkg-config --exists libvirt 2>/dev/null; then
    install_group kcli 'libvirt-python|kcli'
  else
    say "libvirt-dev missing: skipping libvirt-python and kcli (install libvirt-dev and re-run setup)"
    status installing kcli skipped
    # A partial install (no kcli) leaves no stamp, so the next run tries again.
    complete=0
  fi
  install_group model 'gemma3-[a-z0-9-]+'
  other=$(grep -v '^\s*\(#.*\)\?$' "$requirements" | grep -v -E '^(ansible-core|ansible-navigator|libvirt-python|kcli|gemma3-[a-z0-9-]+)==' || true)
  if [ -n "$other" ]; then
    say "installing the other pinned tools ($(echo "$other" | tr '\n' ' '))"
    status installing other installing
    other_file=$(mktemp)
    echo "$other" > "$other_file"
    if run_step pip_install -r "$other_file"; then status installing other "done"; else status installing other failed; complete=0; fi
    rm -f "$other_file"
  else
    status installing other "done"
  fi
  if [ "$complete" = 1 ]; then echo "$wanted" > "$stamp_tools"; fi
fi

# git (with git-http-backend) and OpenSSH's server: the private-repository tests serve a repository over
# authenticated http and over ssh on a loopback port. Installed when missing and we can (root + apt).
if { ! command -v git >/dev/null 2>&1 || [ ! -x /usr/sbin/sshd ]; } && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing git and openssh-server (apt) for the private-repository tests"
  status installing test-packages installing
  had_sshd=0; [ -x /usr/sbin/sshd ] && had_sshd=1
  run_step bash -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends git openssh-server >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends git openssh-server >/dev/null; }' ||
    say "apt-get install openssh-server failed: the ssh repository tests will be skipped"
  # The tests start their own sshd on 127.0.0.1; the package's service is not left listening because of them.
  if [ "$had_sshd" = 0 ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true; fi
fi

# ShellCheck and systemd-analyze check the deploy files and scripts (test/deploy-files.test.ts); zsh
# runs the generated zsh completion (test/cli-completion.test.ts).
if { ! command -v shellcheck >/dev/null 2>&1 || ! command -v systemd-analyze >/dev/null 2>&1 || ! command -v zsh >/dev/null 2>&1; } && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing shellcheck, systemd and zsh (apt) for the deploy-file and completion checks"
  status installing test-packages installing
  run_step bash -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends shellcheck systemd zsh >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends shellcheck systemd zsh >/dev/null; }' ||
    say "apt-get install shellcheck systemd zsh failed: the deploy-file and zsh completion checks will fail"
fi

if [ "$build" = 1 ]; then
  status installing build installing
  if run_step bash infra/setup-dist.sh --swap; then status installing build "done"; else status installing build failed; fi
fi

failed=$("$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join(g for g, s in d.get("groups", {}).items() if s == "failed"))' "$status_file")
if [ -n "$failed" ]; then
  status failed "could not install: $failed; see .data/setup/setup.log and run bash infra/setup.sh --all"
  say "could not install: $failed"
  [ "$background" = 1 ] || exit 1
else
  status "done" "tools installed"
fi
