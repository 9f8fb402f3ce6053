// Writing DLITE_HOME/config.json through conf: schema-validated, migrated on open, written atomically.
// config.json is also the "installed" marker: install writes it last. Plain reads take read.ts's fast path.
import {randomBytes} from 'node:crypto'
import {linkSync, mkdirSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import Conf from 'conf'

import {AlreadyInstalledError, InvalidConfigError} from './errors.js'
import {
  CONFIG_NAME,
  configPath,
  INTERNAL_KEY,
  isInstalled,
  readConfigDocument,
  refuseNewerSchema,
  withoutInternal,
  type SchemaOptions,
} from './read.js'
import {CONFIG_AJV_OPTIONS, CONFIG_MIGRATIONS, CONFIG_REQUIRED, CONFIG_SCHEMA, CONFIG_SCHEMA_VERSION, schemaSemver, type DliteConfig} from './schema.js'

const FILE_MODE = 0o644

function openStore(home: string, configName: string, options: SchemaOptions): Conf<DliteConfig> {
  const schemaVersion = options.schemaVersion ?? CONFIG_SCHEMA_VERSION
  const path = join(home, `${configName}.json`)
  refuseNewerSchema(path, readConfigDocument(path, home), schemaVersion)
  try {
    return new Conf<DliteConfig>({
      cwd: home,
      configName,
      projectVersion: schemaSemver(schemaVersion),
      migrations: options.migrations ?? CONFIG_MIGRATIONS,
      schema: CONFIG_SCHEMA,
      rootSchema: {required: CONFIG_REQUIRED},
      ajvOptions: CONFIG_AJV_OPTIONS,
      clearInvalidConfig: false,
      configFileMode: FILE_MODE,
      accessPropertiesByDotNotation: false,
    })
  } catch (error) {
    throw new InvalidConfigError(path, (error as Error).message)
  }
}

function plainConfig(store: Conf<DliteConfig>): DliteConfig {
  return withoutInternal(store.store)
}

/** Opens the store (running any pending migrations); for callers that want conf itself. */
export function openConfigStore(home: string, options: SchemaOptions = {}): Conf<DliteConfig> {
  return openStore(home, CONFIG_NAME, options)
}

/** The config as conf reads it: migrated (and written back) when older, conf's message when invalid. */
export function readConfigThroughConf(home: string, options: SchemaOptions = {}): DliteConfig {
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
