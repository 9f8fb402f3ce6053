// The text of the service definitions that run `dlite daemon` under the host's service manager: a systemd
// unit and a launchd plist. Pure functions, so content and escaping are unit-tested where neither
// systemd nor launchd exists.

export interface ServiceSpec {
  /** DLITE_HOME of the VM this service runs; always put in the daemon's environment. */
  home?: string
  /** What the service is, for the unit's Description (default: the VM daemon of `home`). */
  description?: string
  /** The daemon's argv, e.g. [process.execPath, '/usr/lib/node_modules/dlite/bin/run.js', 'daemon']. */
  command: string[]
  /** systemd unit name (without .service) / launchd label suffix; see serviceNames(). */
  name: string
  /** Other environment for the daemon (PATH, NODE_OPTIONS...). */
  env?: Record<string, string>
  /** How long the manager waits for a clean stop (ACPI power-down included) before killing. */
  stopTimeoutSec?: number
  /** launchd only: where the daemon's stdout/stderr go (systemd has the journal). */
  logFile?: string
  /**
   * `user` (a user-mode VM): the user's own service manager runs the daemon as that user — a systemd user unit,
   * a LaunchAgent. `system` (a bridged VM, root): a system unit, a LaunchDaemon. Default system.
   */
  scope?: ServiceScope
  /**
   * launchd only: start at login (LaunchAgent) or boot (LaunchDaemon), and again after a crash. systemd keeps
   * this as the unit's enablement instead (`systemctl enable`), so its unit text does not change with it.
   */
  autostart?: boolean
}

export type ServiceScope = 'system' | 'user'

export interface ServiceNames {
  /** e.g. `dlite` or `dlite-1a2b3c` */
  name: string
  systemdUnit: string
  launchdLabel: string
}

/** The default home keeps the plain name (`dlite.service`); other homes get their id appended. */
export function serviceNames(homeId: string, isDefaultHome: boolean): ServiceNames {
  if (!/^[A-Za-z0-9_-]+$/.test(homeId)) throw new Error(`bad home id: ${homeId}`)
  const name = isDefaultHome ? 'dlite' : `dlite-${homeId}`
  return {name, systemdUnit: `${name}.service`, launchdLabel: isDefaultHome ? 'io.dlite.daemon' : `io.dlite.daemon.${homeId}`}
}

const DEFAULT_STOP_TIMEOUT_SEC = 90

function assertPrintable(what: string, value: string): void {
  // A newline would end the directive and let the rest be read as another one.
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new Error(`${what} contains a control character: ${JSON.stringify(value)}`)
}

function assertSpec(spec: ServiceSpec): void {
  if (spec.command.length === 0) throw new Error('service command is empty')
  if (spec.home !== undefined && !spec.home.startsWith('/')) throw new Error(`DLITE_HOME must be absolute: ${spec.home}`)
  if (!/^[A-Za-z0-9_.@-]+$/.test(spec.name)) throw new Error(`bad service name: ${spec.name}`)
  if (spec.home !== undefined) assertPrintable('DLITE_HOME', spec.home)
  if (spec.description !== undefined) assertPrintable('description', spec.description)
  spec.command.forEach((arg) => assertPrintable('service command', arg))
  for (const [key, value] of Object.entries(spec.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`bad environment variable name: ${key}`)
    assertPrintable(key, value)
  }
}

/** Double-quoted systemd word: backslash and quote escaped, `%` specifiers and (for Exec) `$` expansion disabled. */
function systemdQuote(value: string, exec: boolean): string {
  let escaped = value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%')
  if (exec) escaped = escaped.replace(/\$/g, '$$$$')
  return `"${escaped}"`
}

function environment(spec: ServiceSpec): [string, string][] {
  return [...(spec.home === undefined ? [] : [['DLITE_HOME', spec.home] as [string, string]]), ...Object.entries(spec.env ?? {}).filter(([key]) => key !== 'DLITE_HOME')]
}

export function systemdUnitText(spec: ServiceSpec): string {
  assertSpec(spec)
  const description = (spec.description ?? `dlite VM daemon (DLITE_HOME=${spec.home})`).replace(/%/g, '%%')
  const user = spec.scope === 'user'
  const lines = [
    '# Written by `dlite install`; removed by `dlite uninstall`. Edits are lost on reinstall.',
    '[Unit]',
    `Description=${description}`,
    // a user's manager has no network-online.target; user-mode networking needs no host network set-up
    ...(user ? [] : ['After=network-online.target', 'Wants=network-online.target']),
    // The daemon restarts QEMU itself; systemd only catches the daemon dying, and not in a loop.
    'StartLimitIntervalSec=60',
    'StartLimitBurst=3',
    '',
    '[Service]',
    'Type=simple',
    ...environment(spec).map(([key, value]) => `Environment=${systemdQuote(`${key}=${value}`, false)}`),
    `ExecStart=${spec.command.map((arg) => systemdQuote(arg, true)).join(' ')}`,
    'Restart=on-failure',
    'RestartSec=5',
    // SIGTERM to the daemon only, so it can power the guest down cleanly; the rest are killed at the timeout.
    'KillMode=mixed',
    `TimeoutStopSec=${spec.stopTimeoutSec ?? DEFAULT_STOP_TIMEOUT_SEC}`,
    '',
    '[Install]',
    user ? 'WantedBy=default.target' : 'WantedBy=multi-user.target',
    '',
  ]
  return lines.join('\n')
}

function xmlEscape(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;')
}

export function launchdPlistText(spec: ServiceSpec, label: string): string {
  assertSpec(spec)
  if (!/^[A-Za-z0-9.-]+$/.test(label)) throw new Error(`bad launchd label: ${label}`)
  const string = (value: string) => `<string>${xmlEscape(value)}</string>`
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<!-- Written by `dlite install`; removed by `dlite uninstall`. -->',
    '<plist version="1.0">',
    '<dict>',
    `  <key>Label</key>`,
    `  ${string(label)}`,
    '  <key>ProgramArguments</key>',
    '  <array>',
    ...spec.command.map((arg) => `    ${string(arg)}`),
    '  </array>',
    '  <key>EnvironmentVariables</key>',
    '  <dict>',
    ...environment(spec).flatMap(([key, value]) => [`    <key>${xmlEscape(key)}</key>`, `    ${string(value)}`]),
    '  </dict>',
    // Without autostart: started by `dlite start` (launchctl kickstart) only. With it: at load (login for a
    // LaunchAgent, boot for a LaunchDaemon), and again when the daemon dies other than by a clean exit.
    '  <key>RunAtLoad</key>',
    spec.autostart ? '  <true/>' : '  <false/>',
    ...(spec.autostart ? ['  <key>KeepAlive</key>', '  <dict>', '    <key>SuccessfulExit</key>', '    <false/>', '  </dict>'] : []),
    '  <key>ExitTimeOut</key>',
    `  <integer>${spec.stopTimeoutSec ?? DEFAULT_STOP_TIMEOUT_SEC}</integer>`,
    ...(spec.logFile
      ? ['  <key>StandardOutPath</key>', `  ${string(spec.logFile)}`, '  <key>StandardErrorPath</key>', `  ${string(spec.logFile)}`]
      : []),
    '</dict>',
    '</plist>',
    '',
  ]
  return lines.join('\n')
}
