// The config's read path: the ahead-of-time validator must be what the schema compiles to today, and the
// commands that only read their config must not load conf or ajv (that is the whole point of it).
import {expect} from 'chai'
import {existsSync, readFileSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'

import {configValidatorSource, GENERATED_VALIDATOR} from '../../scripts/config-validator.js'
import {validate} from '../../src/config/config-validator.generated.js'
import {sampleConfig} from '../helpers/config-fixture.js'

const repo = resolve(import.meta.dirname, '../..')

/** Every module a source file pulls in through static imports, following the project's own files. */
function staticImportGraph(entry: string): {files: Set<string>; packages: Set<string>} {
  const files = new Set<string>()
  const packages = new Set<string>()
  const visit = (file: string) => {
    if (files.has(file)) return
    files.add(file)
    const source = readFileSync(file, 'utf8')
    // `import x from '...'` and `export ... from '...'`, but not `import type` and not `await import(...)`
    for (const match of source.matchAll(/^(?:import|export)\s+(?!type\s)[^'"]*?from\s+'([^']+)'|^import\s+'([^']+)'/gm)) {
      const specifier = match[1] ?? match[2]
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(file), specifier.replace(/\.js$/, '.ts'))
        if (existsSync(target)) visit(target)
      } else {
        packages.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0])
      }
    }
  }
  visit(entry)
  return {files, packages}
}

describe('config read path', () => {
  it('the committed generated validator is what the schema compiles to now', () => {
    const committed = readFileSync(GENERATED_VALIDATOR, 'utf8')
    expect(committed === configValidatorSource(), 'src/config/config-validator.generated.ts is stale: run `npm run config:validator` and commit it').to.equal(true)
  })

  it('the generated validator accepts a good config and rejects a bad one, as conf would', () => {
    const stamped = {...sampleConfig(), __internal__: {migrations: {version: '1.0.0'}}}
    expect(validate(stamped)).to.equal(true)
    expect(validate({...stamped, cpus: 0})).to.equal(false)
    expect((validate as typeof validate & {errors?: Array<{instancePath: string}>}).errors?.map((e) => e.instancePath)).to.deep.equal(['/cpus'])
    expect(validate({...stamped, hostname: `${'a'.repeat(60)}.`.repeat(5)})).to.equal(false)
    expect(validate({...stamped, createdAt: 'yesterday'})).to.equal(false)
  })

  for (const command of ['status', 'ip', 'start', 'logs', 'ssh']) {
    it(`\`dlite ${command}\` reads its config without loading conf or ajv`, () => {
      const {packages, files} = staticImportGraph(join(repo, 'src/commands', `${command}.ts`))
      expect(files.size).to.be.greaterThan(1)
      expect([...packages].filter((p) => /^(conf|ajv|ajv-formats)$/.test(p))).to.deep.equal([])
    })
  }

  it('the import-graph check does see conf where it is loaded', () => {
    expect(staticImportGraph(join(repo, 'src/config/store.ts')).packages.has('conf')).to.equal(true)
  })
})
