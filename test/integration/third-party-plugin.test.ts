// The plugin docs/PLUGINS.md shows, built as a third party would: its files taken from the document, in a
// directory outside this repository, with dlite-kit from its own packed tarball (as the registry would serve it),
// packed, installed with `dlite plugins install`, and run. No VM: the command reads the home's state.
import {expect} from 'chai'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {dliteCli, REPO} from '../helpers/dlite-cli.js'
import {runCommand} from '../helpers/netns.js'

/** The files of the example plugin: each fenced block that follows a `<!-- file: PATH -->` line. */
function documentedFiles(markdown: string): Map<string, string> {
  const files = new Map<string, string>()
  for (const match of markdown.matchAll(/<!-- file: (\S+) -->\n```\w*\n([\s\S]*?)\n```/g)) files.set(match[1], `${match[2]}\n`)
  return files
}

describe('a third-party plugin built on the kit, from docs/PLUGINS.md', function () {
  this.timeout(600_000)
  let dir: string

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-third-party-'))
  })
  after(() => rmSync(dir, {recursive: true, force: true}))

  it('builds outside the repository, installs with `dlite plugins install`, and behaves like a core command', async () => {
    const files = documentedFiles(readFileSync(join(REPO, 'docs', 'PLUGINS.md'), 'utf8'))
    expect([...files.keys()].sort()).to.deep.equal(['package.json', 'src/commands/where.ts', 'tsconfig.json'])

    // dlite-kit as a package of its own, the way the registry would hand it out
    const kitPacked = await runCommand('npm', ['pack', '-w', 'dlite-kit', '--pack-destination', dir], {cwd: REPO, timeoutMs: 300_000})
    expect(kitPacked.code, kitPacked.stderr).to.equal(0)
    const {version: kitVersion} = JSON.parse(readFileSync(join(REPO, 'packages', 'kit', 'package.json'), 'utf8')) as {version: string}
    const kitTarball = join(dir, `dlite-kit-${kitVersion}.tgz`)

    const plugin = join(dir, 'dlite-where')
    for (const [path, text] of files) {
      mkdirSync(dirname(join(plugin, path)), {recursive: true})
      writeFileSync(join(plugin, path), text)
    }
    // Two substitutions only, for what is not on the registry yet: the kit comes from its tarball, and the CLI's
    // types (a devDependency there) from this checkout's build.
    const pkg = JSON.parse(files.get('package.json')!) as {dependencies: Record<string, string>; devDependencies: Record<string, string>}
    pkg.dependencies['dlite-kit'] = `file:${kitTarball}`
    delete pkg.devDependencies['dlite-cli']
    writeFileSync(join(plugin, 'package.json'), JSON.stringify(pkg, null, 2))
    const tsconfig = JSON.parse(files.get('tsconfig.json')!) as {compilerOptions: Record<string, unknown>}
    tsconfig.compilerOptions.paths = {'dlite-cli/plugin': [join(REPO, 'dist', 'plugin-api', 'index.d.ts')]}
    writeFileSync(join(plugin, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2))

    const npmEnv = {...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_prefer_offline: 'true'}
    const installedDeps = await runCommand('npm', ['install'], {cwd: plugin, env: npmEnv, timeoutMs: 300_000})
    expect(installedDeps.code, installedDeps.stderr).to.equal(0)
    const packed = await runCommand('npm', ['pack'], {cwd: plugin, env: npmEnv, timeoutMs: 300_000})
    expect(packed.code, packed.stdout + packed.stderr).to.equal(0)
    const tarball = join(plugin, 'dlite-where-1.0.0.tgz')
    expect(existsSync(tarball)).to.equal(true)

    // npm, under `dlite plugins install` too, takes its cache first: what the lockless install resolves is there
    const env = {DLITE_HOME: join(dir, 'no-home'), XDG_DATA_HOME: join(dir, 'xdg'), DLITE_DATA_DIR: join(dir, 'xdg', 'dlite'), npm_config_prefer_offline: 'true'}
    const cli = dliteCli(env)
    const installed = await cli(['plugins', 'install', `file:${tarball}`], {timeoutMs: 300_000})
    expect(installed.code, installed.stderr).to.equal(0)
    expect(existsSync(join(dir, 'xdg', 'dlite', 'node_modules', 'dlite-kit', 'dist', 'command.js'))).to.equal(true)

    const where = await cli.json<Record<string, unknown>>(['where'])
    expect(where.code, where.stderr).to.equal(0)
    expect(where.body).to.deep.equal({home: env.DLITE_HOME, installed: false, network: null, ip: null})
    const text = await cli(['where', '--field', 'installed'])
    expect(text.stdout.trim()).to.equal('installed: false')

    // the kit's exit codes and fixes, as in the core: a bad value is a usage error (2), also under --json
    const bad = await cli.json<{error: {message: string; suggestions?: string[]}}>(['where', '--field', 'nope'])
    expect(bad.code).to.equal(2)
    expect(bad.body.error.message).to.contain('there is no field nope')
    expect(bad.body.error.suggestions).to.deep.equal(['use one of: home, installed, network, ip'])
    const unknownFlag = await cli(['where', '--colour'])
    expect(unknownFlag.code).to.equal(2)
  })
})
