// Reading and writing DLITE_HOME/config.json through conf: schema-validated, migrated on open,
// written atomically. config.json is also the "installed" marker: install writes it last.
import {randomBytes} from 'node:crypto'
import {existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import Conf from 'conf'

import {
  CONFIG_MIGRATIONS,
  CONFIG_REQUIRED,
  CONFIG_SCHEMA,
  CONFIG_SCHEMA_VERSION,
  schemaSemver,
  type ConfigMigrations,
  type DliteConfig,
} from './schema.js'

const CONFIG_NAME = 'config'
const INTERNAL_KEY = '__internal__'
const FILE_MODE = 0o644

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

export interface SchemaOptions {
  /** Defaults to CONFIG_SCHEMA_VERSION; tests pass other versions to exercise migrations. */
  schemaVersion?: number
  migrations?: ConfigMigrations
}

export function configPath(home: string): string {
  return join(home, `${CONFIG_NAME}.json`)
}

export function isInstalled(home: string): boolean {
  return existsSync(configPath(home))
}

function storedSchemaVersion(raw: unknown): string | undefined {
  const internal = (raw as Record<string, unknown> | null)?.[INTERNAL_KEY] as {migrations?: {version?: unknown}} | undefined
  const version = internal?.migrations?.version
  return typeof version === 'string' ? version : undefined
}

function openStore(home: string, configName: string, options: SchemaOptions): Conf<DliteConfig> {
  const schemaVersion = options.schemaVersion ?? CONFIG_SCHEMA_VERSION
  const path = join(home, `${configName}.json`)
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new NotInstalledError(home)
    throw new InvalidConfigError(path, (error as Error).message)
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidConfigError(path, 'not a JSON object')
  // conf would silently stamp an older version over a newer file; an old dlite must refuse instead.
  const stored = storedSchemaVersion(raw)
  if (stored !== undefined && Number.parseInt(stored, 10) > schemaVersion) {
    throw new ConfigTooNewError(path, stored, schemaVersion)
  }
  try {
    return new Conf<DliteConfig>({
      cwd: home,
      configName,
      projectVersion: schemaSemver(schemaVersion),
      migrations: options.migrations ?? CONFIG_MIGRATIONS,
      schema: CONFIG_SCHEMA,
      rootSchema: {required: CONFIG_REQUIRED},
      clearInvalidConfig: false,
      configFileMode: FILE_MODE,
      accessPropertiesByDotNotation: false,
    })
  } catch (error) {
    throw new InvalidConfigError(path, (error as Error).message)
  }
}

function plainConfig(store: Conf<DliteConfig>): DliteConfig {
  const {[INTERNAL_KEY]: _internal, ...config} = store.store as DliteConfig & {[INTERNAL_KEY]?: unknown}
  return config as DliteConfig
}

/** Opens the store (running any pending migrations); for callers that want conf itself. */
export function openConfigStore(home: string, options: SchemaOptions = {}): Conf<DliteConfig> {
  return openStore(home, CONFIG_NAME, options)
}

/** The validated, migrated config; NotInstalledError when the home has none. */
export function readConfig(home: string, options: SchemaOptions = {}): DliteConfig {
  return plainConfig(openConfigStore(home, options))
}

/**
 * Writes a complete new config. It is validated against the schema in a temp file first and then
 * moved into place in one step, so config.json is either absent or whole and valid.
 */
export function createConfig(home: string, config: DliteConfig, opts: {overwrite?: boolean} = {}): void {
  if (!opts.overwrite && isInstalled(home)) throw new AlreadyInstalledError(home)
  mkdirSync(home, {recursive: true})
  const tempName = `.${CONFIG_NAME}.new-${randomBytes(6).toString('hex')}`
  const tempPath = join(home, `${tempName}.json`)
  const document = {...config, [INTERNAL_KEY]: {migrations: {version: schemaSemver(CONFIG_SCHEMA_VERSION)}}}
  writeFileSync(tempPath, JSON.stringify(document, undefined, '\t'), {mode: FILE_MODE, flag: 'wx'})
  try {
    openStore(home, tempName, {}) // validates; throws InvalidConfigError naming the offending field
    if (opts.overwrite) {
      renameSync(tempPath, configPath(home))
    } else {
      // link() fails with EEXIST instead of replacing: no race with a concurrent install.
      try {
        linkSync(tempPath, configPath(home))
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new AlreadyInstalledError(home)
        throw error
      }
    }
  } finally {
    rmSync(tempPath, {force: true})
  }
}

/** Reads, applies `change`, validates and writes atomically; returns the new config. */
export function updateConfig(
  home: string,
  change: Partial<DliteConfig> | ((current: DliteConfig) => DliteConfig),
  options: SchemaOptions = {},
): DliteConfig {
  const store = openConfigStore(home, options)
  const current = plainConfig(store)
  const next = typeof change === 'function' ? change(structuredClone(current)) : {...current, ...change}
  try {
    store.store = next
  } catch (error) {
    throw new InvalidConfigError(configPath(home), (error as Error).message)
  }
  return plainConfig(store)
}

/** Records a newly installed image as current and keeps the old current as the rollback target. */
export function selectImage(home: string, version: string): DliteConfig {
  return updateConfig(home, (config) => {
    if (config.image.current === version) return config
    return {...config, image: {current: version, previous: config.image.current}}
  })
}

/** Swaps current and previous (update --rollback); throws when there is no previous image. */
export function rollbackImage(home: string): DliteConfig {
  return updateConfig(home, (config) => {
    if (!config.image.previous) throw new Error(`no previous OS image to roll back to in ${home}`)
    return {...config, image: {current: config.image.previous, previous: config.image.current}}
  })
}
