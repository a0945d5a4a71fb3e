import type { AnalysisCategory, AnalysisFix } from '../dag-repos/actions/failure-analysis';

/** One known failure: what in the output gives it away, and what to tell the operator. */
export interface ErrorPattern {
  category: AnalysisCategory;
  /** Any match classifies the failure; earlier patterns win, so the specific come before the general. */
  match: readonly RegExp[];
  summary: string;
  likelyCause: string;
  fixes: readonly AnalysisFix[];
  confidence: number;
}

/**
 * The library of failures the rules analyser recognises. Ordered: a libvirt socket error also says
 * "No such file or directory", so libvirt comes before the generic ones.
 */
export const ERROR_PATTERNS: readonly ErrorPattern[] = [
  {
    category: 'no-kvm',
    match: [/\/dev\/kvm/i, /(?<![\w-])KVM (?:is )?not (?:available|supported)/i, /Could not access KVM kernel module/i, /failed to initialize kvm/i, /kvm acceleration (?:can ?not|cannot) be used/i, /virtualization (?:is )?disabled/i, /VT-x|AMD-V.*disabled/i],
    summary: 'Hardware virtualization (KVM) is not available on this host.',
    likelyCause: '/dev/kvm is missing: the CPU has VT-x/AMD-V disabled in firmware, the kvm module is not loaded, or the host is a VM without nested virtualization.',
    fixes: [
      { command: 'ls -l /dev/kvm && lsmod | grep kvm', why: 'shows whether the device and the kvm_intel/kvm_amd module exist' },
      { command: 'sudo modprobe kvm_intel || sudo modprobe kvm_amd', why: 'loads the module when the CPU supports it' },
      { edit: 'enable VT-x/AMD-V in the firmware, or nested virtualization on the parent hypervisor', why: 'KVM needs hardware virtualization' },
    ],
    confidence: 0.85,
  },
  {
    category: 'libvirt-not-running',
    match: [/libvirt-sock/i, /Failed to connect socket to '\/var\/run\/libvirt/i, /failed to connect to the hypervisor/i, /libvirtd?\.service.*(?:inactive|failed|not found)/i, /Cannot (?:connect|recv data).*libvirt/i, /virsh.*connection refused/i],
    summary: 'libvirt is not running, so the hypervisor cannot be reached.',
    likelyCause: 'The libvirtd (or virtqemud) service is stopped, failed, or not installed on this host.',
    fixes: [
      { command: 'sudo systemctl enable --now libvirtd', why: 'starts libvirt now and at boot' },
      { command: 'systemctl status libvirtd virtqemud --no-pager', why: 'shows why the service is down' },
      { command: 'sudo dnf install -y libvirt', why: 'installs libvirt when the service is missing' },
    ],
    confidence: 0.85,
  },
  {
    category: 'subscription-not-registered',
    match: [/not registered with an entitlement server/i, /This system is not registered/i, /subscription-manager.*(?:register|not registered)/i, /Unable to read consumer identity/i, /no enabled repos/i, /There are no enabled repositories/i],
    summary: 'The host is not registered with Red Hat Subscription Management, so no RHEL repositories are enabled.',
    likelyCause: 'subscription-manager has not registered this system (or its entitlement expired): dnf sees no enabled repositories.',
    fixes: [
      { command: 'sudo subscription-manager register --org <ORG> --activationkey <KEY>', why: 'registers the host and enables its repositories' },
      { command: 'sudo subscription-manager status && sudo dnf repolist', why: 'shows the registration state and the enabled repositories' },
    ],
    confidence: 0.85,
  },
  {
    category: 'disk-full',
    match: [/No space left on device/i, /ENOSPC/, /disk (?:is )?full/i, /Disk quota exceeded/i, /(?:not|n't have) enough (?:free )?(?:disk )?space/i, /insufficient space/i],
    summary: 'The disk is full.',
    likelyCause: 'A filesystem the task writes to (often / , /var or the libvirt image pool) has no free space left.',
    fixes: [
      { command: 'df -h && sudo du -xsh /var/* | sort -h | tail', why: 'finds the full filesystem and what fills it' },
      { command: 'sudo dnf clean all && sudo journalctl --vacuum-size=200M', why: 'frees package caches and old journals' },
      { command: 'virsh vol-list default', why: 'lists VM images that may be left over' },
    ],
    confidence: 0.9,
  },
  {
    category: 'package-not-found',
    match: [/No match for argument/i, /Unable to find a match/i, /No package .* available/i, /E: Unable to locate package/i, /has no installation candidate/i, /nothing provides/i, /Failed to download metadata for repo/i, /Cannot find a valid baseurl/i, /Error: Unable to find a match/i, /No matching distribution found/i],
    summary: 'A package could not be found in the enabled repositories.',
    likelyCause: 'The package name is misspelled, or the repository that provides it (EPEL, CodeReady Builder, AppStream) is not enabled or not reachable.',
    fixes: [
      { command: 'dnf repolist && dnf search <name>', why: 'shows the enabled repositories and the exact package name' },
      { command: 'sudo dnf config-manager --set-enabled crb && sudo dnf install -y epel-release', why: 'enables the repositories most extra packages come from' },
      { edit: 'fix the package name in the playbook or DAG task', why: 'a typo gives the same error' },
    ],
    confidence: 0.8,
  },
  {
    category: 'dns-failure',
    match: [/Could not resolve host/i, /Name or service not known/i, /Temporary failure in name resolution/i, /Temporary failure resolving/i, /getaddrinfo (?:ENOTFOUND|EAI_AGAIN)/i, /ENOTFOUND/, /NXDOMAIN/, /Could not resolve hostname/i, /no such host/i],
    summary: 'A host name could not be resolved (DNS failure).',
    likelyCause: 'The name is wrong, or the host has no working DNS server (check /etc/resolv.conf, the network, or the VM\'s dnsmasq).',
    fixes: [
      { command: 'getent hosts <name>; cat /etc/resolv.conf', why: 'checks resolution and which DNS servers are used' },
      { command: 'nmcli dev show | grep DNS', why: 'shows the DNS servers NetworkManager configured' },
      { edit: 'fix the host name in the DAG params or inventory', why: 'a typo in a name fails the same way' },
    ],
    confidence: 0.85,
  },
  {
    category: 'ssh-unreachable',
    match: [/UNREACHABLE!/, /ssh: connect to host .* port \d+: (?:No route to host|Connection refused|Connection timed out)/i, /Failed to connect to the host via ssh/i, /Host key verification failed/i, /Permission denied \(publickey/i],
    summary: 'The target host could not be reached over SSH.',
    likelyCause: 'The host is down or not yet booted, the address is wrong, sshd is not listening, or the SSH key is not authorised on it.',
    fixes: [
      { command: 'ping -c2 <host> && ssh -v <user>@<host> true', why: 'separates a network problem from an authentication one' },
      { command: 'ansible -i <inventory> all -m ping', why: 'checks the inventory and credentials ansible uses' },
      { edit: 'add the public key to ~/.ssh/authorized_keys on the target, or wait for the VM to boot', why: 'the most common causes' },
    ],
    confidence: 0.8,
  },
  {
    category: 'permission-denied',
    match: [/Permission denied/i, /EACCES/, /Operation not permitted/i, /EPERM/, /must be run as root/i, /you must be root/i, /sudo: a password is required/i, /Missing sudo password/i, /access denied/i, /authentication (?:failed|required)/i],
    summary: 'The task was denied permission.',
    likelyCause: 'The worker user lacks rights for a file, device or command (needs sudo/become, a group such as libvirt, or a file mode change).',
    fixes: [
      { command: 'id && ls -l <path>', why: 'shows the user, its groups and the file owner/mode' },
      { command: 'sudo usermod -aG libvirt $USER', why: 'lets the worker user manage VMs without root (log in again)' },
      { edit: 'add `become: true` to the ansible task, or run the command with sudo', why: 'the action needs root' },
    ],
    confidence: 0.75,
  },
  {
    category: 'python-module-missing',
    match: [/ModuleNotFoundError/, /ImportError: No module named/i, /No module named ['"]?[\w.]+/i, /requires the [\w.-]+ (?:Python )?(?:library|module)/i, /Failed to import the required Python library/i],
    summary: 'A Python module is missing.',
    likelyCause: 'The Python interpreter that runs the tool (or ansible on the target) lacks a library, often because it runs outside the project venv.',
    fixes: [
      { command: '.tools/venv/bin/pip install <module>', why: 'installs the module into the project venv' },
      { command: 'bash infra/setup.sh', why: 'reinstalls the pinned tools' },
      { edit: 'set ansible_python_interpreter to a Python that has the library', why: 'ansible modules run with the target\'s interpreter' },
    ],
    confidence: 0.8,
  },
  {
    category: 'command-not-found',
    match: [/command not found/i, /: not found$/m, /No such file or directory.*(?:exec|spawn)/i, /spawn \S+ ENOENT/, /executable file not found/i, /cannot run "[^"]*": not found/i, /SpawnFailed/],
    summary: 'A program the task runs is not installed or not on PATH.',
    likelyCause: 'The command is missing on this worker (e.g. kcli or ansible-navigator not installed) or PATH does not include its directory.',
    fixes: [
      { command: 'command -v <program>; echo $PATH', why: 'shows whether and where the program is found' },
      { command: 'bash infra/setup.sh', why: 'installs the pinned tools into .tools/venv' },
    ],
    confidence: 0.8,
  },
  {
    category: 'vm-exists',
    match: [/domain .* already exists/i, /VM .* already exists/i, /already exists with uuid/i, /Operation not valid: domain is already running/i],
    summary: 'A VM with this name already exists.',
    likelyCause: 'A previous run created the VM and did not remove it.',
    fixes: [
      { command: 'kcli list vm', why: 'shows existing VMs' },
      { command: 'kcli delete vm -y <name>', why: 'removes the leftover VM (check it is not needed first)' },
    ],
    confidence: 0.8,
  },
  {
    category: 'connection-refused',
    match: [/Connection refused/i, /ECONNREFUSED/, /connect: connection refused/i, /Failed to establish a new connection/i],
    summary: 'A service refused the connection.',
    likelyCause: 'Nothing listens on that address and port: the service is stopped, still starting, or bound elsewhere.',
    fixes: [
      { command: 'ss -ltnp', why: 'lists listening ports and their processes' },
      { command: 'systemctl status <service> --no-pager', why: 'shows whether the service runs' },
    ],
    confidence: 0.7,
  },
  {
    category: 'timeout',
    match: [/timed out/i, /Timeout/, /ETIMEDOUT/, /deadline exceeded/i, /Timed out waiting/i],
    summary: 'The task timed out.',
    likelyCause: 'The command took longer than the task timeout, or waited on something (network, a VM boot, a lock) that never answered.',
    fixes: [
      { command: 'qubinode logs <run> <task>', why: 'shows where the output stopped' },
      { edit: 'raise `timeout` (or `retry`) on the task in the DAG file', why: 'if the work is just slow' },
    ],
    confidence: 0.6,
  },
  {
    category: 'ansible-syntax',
    match: [/ERROR! .*(?:syntax|could not be found|conflicting action statements|is not a valid attribute)/i, /Syntax Error while loading YAML/i, /couldn't resolve module\/action/i, /the role '.*' was not found/i, /The task includes an option with an undefined variable/i, /is undefined/],
    summary: 'Ansible rejected the playbook (syntax, unknown module/role or undefined variable).',
    likelyCause: 'The playbook has a YAML or Ansible error, uses a module/collection that is not installed, or a variable is not defined.',
    fixes: [
      { command: 'ansible-playbook --syntax-check <playbook>', why: 'points at the bad line' },
      { command: 'ansible-galaxy collection install -r requirements.yml', why: 'installs missing collections and roles' },
    ],
    confidence: 0.75,
  },
  {
    category: 'http-error',
    match: [/HTTP (?:status )?[45]\d\d/i, /returned error: [45]\d\d/i, /last attempt: status [45]\d\d/i, /status code [45]\d\d/i, /HealthCheckFailed/, /expected status/i],
    summary: 'An HTTP endpoint answered with an error or not as expected.',
    likelyCause: 'The service is unhealthy or not ready yet, or the URL/expected status in the task is wrong.',
    fixes: [
      { command: 'curl -sv <url>', why: 'shows the real status and body' },
      { edit: 'check the url and expected status of the http.check task', why: 'a wrong path answers 404' },
    ],
    confidence: 0.6,
  },
];
