// A root service runs what its files say: the attempts here are a user who owns, or may write, one of them.
import {expect} from 'chai'
import {chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {serviceNames} from '../../src/service/definitions.js'
import {serviceManager} from '../../src/service/manager.js'
import {realPathFacts, rootServiceProblems, UNSAFE_ROOT_SERVICE_OVERRIDE, type PathFacts, type PathStat} from '../../src/service/root-owned.js'

/** An in-memory tree: path -> stat; `links` maps a link to its target. */
function fakeFacts(entries: Record<string, Partial<PathStat>>, links: Record<string, string> = {}): PathFacts {
  const all: Record<string, PathStat> = {}
  for (const [path, st] of Object.entries(entries)) {
    all[path] = {uid: 0, mode: 0o755, isDirectory: false, isSymbolicLink: false, ...st}
    for (let dir = dirname(path); !all[dir]; dir = dirname(dir)) {
      all[dir] = {uid: 0, mode: 0o755, isDirectory: true, isSymbolicLink: false}
      if (dir === '/') break
    }
  }
  for (const link of Object.keys(links)) all[link] = {uid: 0, mode: 0o777, isDirectory: false, isSymbolicLink: true}
  return {
    lstat(path) {
      if (!all[path]) throw Object.assign(new Error(`ENOENT ${path}`), {code: 'ENOENT'})
      return all[path]
    },
    realpath(path) {
      for (const [link, target] of Object.entries(links)) if (path === link || path.startsWith(`${link}/`)) return target + path.slice(link.length)
      return path
    },
    readdir: (path) => Object.keys(all).filter((p) => p !== path && dirname(p) === path).map((p) => p.slice(path.length + 1)),
  }
}

const COMMAND = ['/usr/bin/node', '/usr/lib/node_modules/dlite-cli/bin/run.js', 'daemon']
const INSTALLED = {
  '/usr/bin/node': {},
  '/usr/lib/node_modules/dlite-cli/bin/run.js': {},
  '/usr/lib/node_modules/dlite-cli/dist/index.js': {mode: 0o644},
  '/usr/lib/node_modules/dlite-cli/node_modules/@oclif/core/lib/index.js': {mode: 0o644},
  '/usr/local/bin': {isDirectory: true},
  '/tmp': {isDirectory: true, mode: 0o1777},
}

describe('root service files (who could change what root runs)', () => {
  it('a CLI installed by root, with root\'s PATH, is safe', () => {
    expect(rootServiceProblems(COMMAND, '/usr/local/bin:/usr/bin:/bin', fakeFacts(INSTALLED))).to.deep.equal([])
  })

  it('a checkout owned by its user is refused, naming the directory', () => {
    const facts = fakeFacts({...INSTALLED, '/home/u/dlite/bin/run.js': {uid: 1000}, '/home/u/dlite': {uid: 1000, isDirectory: true}})
    const problems = rootServiceProblems(['/usr/bin/node', '/home/u/dlite/bin/run.js'], '/usr/bin', facts)
    expect(problems.join('\n')).to.contain('/home/u/dlite is owned by uid 1000, not root')
  })

  it('one group-writable file deep in node_modules is enough to refuse', () => {
    const facts = fakeFacts({...INSTALLED, '/usr/lib/node_modules/dlite-cli/node_modules/listr2/dist/index.js': {mode: 0o664}})
    expect(rootServiceProblems(COMMAND, '/usr/bin', facts)).to.deep.equal(['/usr/lib/node_modules/dlite-cli/node_modules/listr2/dist/index.js is writable by its group (mode 664)'])
  })

  it('a dependency linked to a user\'s directory is followed and refused', () => {
    const facts = fakeFacts({...INSTALLED, '/home/u/kit/dist/index.js': {uid: 1000}}, {'/usr/lib/node_modules/dlite-cli/node_modules/dlite-kit': '/home/u/kit'})
    expect(rootServiceProblems(COMMAND, '/usr/bin', facts).join('\n')).to.contain('/home/u/kit')
  })

  it('a world-writable directory above the node binary is refused; a sticky root one (/tmp) is not', () => {
    const sticky = fakeFacts({...INSTALLED, '/tmp/node-20/bin/node': {}})
    expect(rootServiceProblems(['/tmp/node-20/bin/node', COMMAND[1]], '/usr/bin', sticky)).to.deep.equal([])
    const open = fakeFacts({...INSTALLED, '/opt/shared': {isDirectory: true, mode: 0o777}, '/opt/shared/node': {}})
    expect(rootServiceProblems(['/opt/shared/node', COMMAND[1]], '/usr/bin', open)).to.deep.equal(['/opt/shared is writable by everyone (mode 777)'])
  })

  it('a PATH entry the user owns, or one that does not exist yet under a directory the user owns, is refused', () => {
    const facts = fakeFacts({...INSTALLED, '/home/u/bin': {uid: 1000, isDirectory: true}})
    expect(rootServiceProblems(COMMAND, '/usr/bin:/home/u/bin', facts)).to.deep.equal(['/home/u/bin is owned by uid 1000, not root'])
    expect(rootServiceProblems(COMMAND, '/home/u/bin/later', facts)).to.deep.equal(['/home/u/bin is owned by uid 1000, not root'])
  })

  it('the real file system: a file handed to another uid inside a root-owned tree is found', function () {
    if (process.getuid?.() !== 0) this.skip() // chown needs root
    const dir = mkdtempSync(join(tmpdir(), 'dlite-root-owned-'))
    try {
      chmodSync(dir, 0o755)
      mkdirSync(join(dir, 'cli', 'bin'), {recursive: true})
      mkdirSync(join(dir, 'cli', 'dist'), {recursive: true})
      writeFileSync(join(dir, 'cli', 'bin', 'run.js'), '')
      writeFileSync(join(dir, 'cli', 'dist', 'index.js'), '')
      symlinkSync(join(dir, 'cli', 'dist'), join(dir, 'cli', 'link'))
      const command = [process.execPath, join(dir, 'cli', 'bin', 'run.js')]
      const before = rootServiceProblems(command, '/usr/bin', realPathFacts)
      expect(before.filter((p) => p.includes(dir))).to.deep.equal([])
      chownSync(join(dir, 'cli', 'dist', 'index.js'), 65534, 65534)
      expect(rootServiceProblems(command, '/usr/bin', realPathFacts)).to.include(`${join(dir, 'cli', 'dist', 'index.js')} is owned by uid 65534, not root`)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('the service manager refuses to write such a unit (nothing written, systemctl not run); the loud override registers it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dlite-unit-'))
    const calls: string[][] = []
    const runner = async (cmd: string, args: string[]) => (calls.push([cmd, ...args]), {code: 0, stdout: '', stderr: ''})
    const spec = {home: '/root/.dlite', command: COMMAND, name: 'dlite', env: {PATH: '/home/u/bin'}}
    const rootPathProblems = () => ['/home/u/bin is owned by uid 1000, not root']
    try {
      const manager = serviceManager('systemd', spec, serviceNames('x', true), {runner, dir, rootPathProblems})!
      let error: Error | undefined
      await manager.install().catch((e: Error) => (error = e))
      expect(error?.message).to.match(/refusing to register a root service/).and.contain('/home/u/bin').and.contain(UNSAFE_ROOT_SERVICE_OVERRIDE)
      expect(readdirSync(dir)).to.deep.equal([])
      expect(calls).to.deep.equal([])
      // a user-mode VM's service is the user's own: nothing of it runs as root
      const user = serviceManager('systemd', {...spec, scope: 'user'}, serviceNames('x', true), {runner, dir, rootPathProblems})!
      await user.install()
      expect(existsSync(user.path)).to.equal(true)
      rmSync(user.path)
      process.env[UNSAFE_ROOT_SERVICE_OVERRIDE] = '1'
      await manager.install()
      expect(existsSync(manager.path)).to.equal(true)
    } finally {
      delete process.env[UNSAFE_ROOT_SERVICE_OVERRIDE]
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
