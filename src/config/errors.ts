// What reading or writing a DLITE_HOME's config.json can fail with; each message names the fix.
export class NotInstalledError extends Error {
  readonly code = 'DLITE_NOT_INSTALLED'
  constructor(readonly home: string) {
    super(`dlite is not installed in ${home} (no config.json): run \`dlite install\``)
    this.name = 'NotInstalledError'
  }
}

export class AlreadyInstalledError extends Error {
  readonly code = 'DLITE_ALREADY_INSTALLED'
  constructor(readonly home: string) {
    super(`dlite is already installed in ${home}: use \`dlite install --force\` to reinstall`)
    this.name = 'AlreadyInstalledError'
  }
}

export class InvalidConfigError extends Error {
  readonly code = 'DLITE_INVALID_CONFIG'
  constructor(readonly path: string, detail: string) {
    super(`${path} is not a valid dlite config (${detail}): fix it by hand or run \`dlite install --force\``)
    this.name = 'InvalidConfigError'
  }
}

export class ConfigTooNewError extends Error {
  readonly code = 'DLITE_CONFIG_TOO_NEW'
  constructor(readonly path: string, readonly fileVersion: string, readonly supportedVersion: number) {
    super(`${path} has config schema ${fileVersion}, newer than this dlite understands (${supportedVersion}): upgrade dlite`)
    this.name = 'ConfigTooNewError'
  }
}
