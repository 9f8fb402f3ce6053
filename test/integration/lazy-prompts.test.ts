// Scripts never load the prompt library: install --yes, update and uninstall with --json or --yes run with
// `@inquirer/prompts` made unloadable (a module hook that fails its resolution), and behave as usual.
import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

const exec = promisify(execFile)

describe('the prompt library is loaded only when a question is asked', function () {
  this.timeout(60_000)
  let dir: string
  let hook: string

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-lazy-'))
    hook = join(dir, 'forbid-prompts.mjs')
    const resolver = `export async function resolve(specifier, context, next) {
      if (specifier === '@inquirer/prompts') throw new Error('@inquirer/prompts was loaded')
      return next(specifier, context)
    }`
    writeFileSync(hook, `import {register} from 'node:module'\nregister(${JSON.stringify(`data:text/javascript,${encodeURIComponent(resolver)}`)})\n`)
  })
  after(() => rmSync(dir, {recursive: true, force: true}))

  async function run(args: string[]): Promise<{code: number; out: string}> {
    try {
      const {stdout, stderr} = await exec(process.execPath, ['--import', hook, './bin/run.js', ...args], {env: {...process.env, DLITE_HOME: join(dir, 'home')}})
      return {code: 0, out: stdout + stderr}
    } catch (error) {
      const failed = error as {code: number; stdout: string; stderr: string}
      return {code: failed.code, out: failed.stdout + failed.stderr}
    }
  }

  it('the hook does forbid it (a direct import fails)', async () => {
    const probe = await exec(process.execPath, ['--import', hook, '--input-type=module', '-e', "await import('@inquirer/prompts')"]).then(() => 'loaded', (e: Error) => e.message)
    expect(probe).to.contain('@inquirer/prompts was loaded')
  })

  it('install --yes (refused options), update --json and uninstall --purge --yes run without it', async () => {
    const install = await run(['install', '--yes', '-c', '0'])
    expect(install.out).to.not.contain('@inquirer/prompts was loaded')
    expect(install.code).to.equal(2)
    const update = await run(['update', '--json'])
    expect(update.out).to.not.contain('@inquirer/prompts was loaded')
    expect(update.code).to.equal(1)
    const uninstall = await run(['uninstall', '--purge', '--yes', '--json'])
    expect(uninstall.out).to.not.contain('@inquirer/prompts was loaded')
    expect(uninstall.code).to.equal(0)
  })
})
