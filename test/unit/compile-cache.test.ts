// The V8 code cache of the CLI's CommonJS modules runs data as code: V8 checks it against the source's length only.
// So it is never used as root, never from a directory or file someone else could have written, and data made for
// another source, altered or rejected by V8 changes nothing the module does (DESIGN.md §6).
import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {Script} from 'node:vm'

import {cacheDirProblem, CompileCache, compileCacheDir, compileCacheRefusal, installCompileCache} from '../../src/host/compile-cache.js'

const SOURCE = resolve('src/host/compile-cache.ts')
const uid = process.geteuid!()
const otherUid = uid === 0 ? 65534 : uid + 4242

/** Runs a module's wrapper as Node would, and returns its exports. */
function run(cache: CompileCache, file: string): unknown {
  const wrapper = cache.compile(readFileSync(file, 'utf8'), file)
  if (!wrapper) throw new Error(`${file} was left to Node`)
  const module = {exports: {} as unknown}
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, dirname(file))
  return module.exports
}

function cacheFile(dir: string): string {
  const [file] = readdirSync(dir).filter((name) => name.endsWith('.bin'))
  return join(dir, file)
}

describe('the compile cache (V8 code cache of the CLI\'s CommonJS modules)', () => {
  let dir: string
  let cacheDir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-compile-cache-'))
    chmodSync(dir, 0o755)
    cacheDir = join(dir, 'cache')
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('lives in the user\'s cache directory: $XDG_CACHE_HOME/dlite/compile-cache, else ~/.cache/dlite/compile-cache', () => {
    expect(compileCacheDir({XDG_CACHE_HOME: '/x/cache'}, () => '/home/ann')).to.equal('/x/cache/dlite/compile-cache')
    expect(compileCacheDir({}, () => '/home/ann')).to.equal('/home/ann/.cache/dlite/compile-cache')
    // a relative XDG_CACHE_HOME is invalid (XDG spec): not a path relative to wherever the command runs
    expect(compileCacheDir({XDG_CACHE_HOME: 'cache'}, () => '/home/ann')).to.equal('/home/ann/.cache/dlite/compile-cache')
  })

  it('as root it is never used: nothing is hooked, no directory made, whatever the environment says', () => {
    const target = {_compile: () => undefined}
    const original = target._compile
    const result = installCompileCache({euid: 0, env: {XDG_CACHE_HOME: dir}, dir: cacheDir, target})
    expect(result.refusal).to.equal('running as root')
    expect(result.cache).to.equal(undefined)
    expect(target._compile).to.equal(original)
    expect(existsSync(cacheDir)).to.equal(false)
    expect(compileCacheRefusal({}, 0)).to.equal('running as root')
  })

  it('DLITE_NO_COMPILE_CACHE=1 turns it off; 0 or empty does not', () => {
    const target = {_compile: () => undefined}
    const original = target._compile
    expect(installCompileCache({euid: uid || 1, env: {DLITE_NO_COMPILE_CACHE: '1'}, dir: cacheDir, target}).refusal).to.match(/DLITE_NO_COMPILE_CACHE/)
    expect(target._compile).to.equal(original)
    expect(existsSync(cacheDir)).to.equal(false)
    expect(compileCacheRefusal({DLITE_NO_COMPILE_CACHE: '0'}, 1000)).to.equal(undefined)
    expect(compileCacheRefusal({DLITE_NO_COMPILE_CACHE: ''}, 1000)).to.equal(undefined)
  })

  it('makes its directory 0700, and uses it only while it is this uid\'s alone', () => {
    expect(cacheDirProblem(cacheDir, uid)).to.equal(undefined)
    expect(statSync(cacheDir).mode & 0o777).to.equal(0o700)
    // someone else's directory (planted where the cache would go), or one group or others may write
    expect(cacheDirProblem(cacheDir, otherUid)).to.equal(`${cacheDir} is owned by uid ${uid}, not ${otherUid}`)
    chmodSync(cacheDir, 0o777)
    expect(cacheDirProblem(cacheDir, uid)).to.match(/writable by group or others \(mode 777\)/)
    chmodSync(cacheDir, 0o770)
    expect(cacheDirProblem(cacheDir, uid)).to.match(/writable by group or others \(mode 770\)/)
    chmodSync(cacheDir, 0o700)
    // a symbolic link to a directory of the user's own is not followed either: its target can change
    const link = join(dir, 'link')
    symlinkSync(cacheDir, link)
    expect(cacheDirProblem(link, uid)).to.match(/is a symbolic link/)
    writeFileSync(join(dir, 'file'), '')
    expect(cacheDirProblem(join(dir, 'file'), uid)).to.match(/not a directory|EEXIST/)
  })

  it('a directory another user owns is refused for real (chown), and nothing is hooked', function () {
    if (uid !== 0) this.skip() // chown needs root
    mkdirSync(cacheDir, {mode: 0o700})
    chownSync(cacheDir, 65534, 65534)
    expect(cacheDirProblem(cacheDir, 0)).to.equal(`${cacheDir} is owned by uid 65534, not 0`)
    // a user's process given a directory root made (a cache left by a sudo run, say) refuses it too
    rmSync(cacheDir, {recursive: true})
    mkdirSync(cacheDir, {mode: 0o700})
    const target = {_compile: () => undefined}
    const original = target._compile
    expect(installCompileCache({euid: 65534, env: {}, dir: cacheDir, target}).refusal).to.equal(`${cacheDir} is owned by uid 0, not 65534`)
    expect(target._compile).to.equal(original)
  })

  describe('its data', () => {
    let module: string
    beforeEach(() => {
      mkdirSync(cacheDir, {mode: 0o700})
      module = join(dir, 'm.cjs')
      writeFileSync(module, 'function twice(x) { return 2 * x }\nmodule.exports = {value: twice(21), self: this === module.exports, args: arguments.length}\n')
    })
    const expected = {value: 42, self: true, args: 5}

    it('a module compiled once runs from its data the next time, the same; the file is 0600', () => {
      const first = new CompileCache(cacheDir, uid)
      expect(run(first, module)).to.deep.equal(expected)
      expect(first.stats).to.include({hits: 0, misses: 1})
      first.flush()
      expect(first.stats.written).to.equal(1)
      expect(statSync(cacheFile(cacheDir)).mode & 0o777).to.equal(0o600)
      expect(readdirSync(cacheDir).filter((name) => name.endsWith('.tmp'))).to.deep.equal([])
      const second = new CompileCache(cacheDir, uid)
      expect(run(second, module)).to.deep.equal(expected)
      expect(second.stats).to.include({hits: 1, misses: 0})
      second.flush()
      expect(second.stats.written).to.equal(0)
    })

    it('data made for another source of the same length is not used, though V8 alone would run it', () => {
      const a = 'module.exports = "AAAA"'
      const b = 'module.exports = "BBBB"'
      // the attack: V8 takes B's data for A's source and runs B
      const wrap = (body: string) => `(function (exports, require, module, __filename, __dirname) { ${body}\n});`
      // (another name than the module's: V8 keeps what it compiled in this process by source and name)
      const made = new Script(wrap(b), {filename: `${module}.raw`})
      made.runInThisContext()({}, undefined, {})
      const fooled = new Script(wrap(a), {filename: `${module}.raw`, cachedData: made.createCachedData()})
      const out = {exports: undefined}
      fooled.runInThisContext()({}, undefined, out)
      expect(fooled.cachedDataRejected).to.equal(false)
      expect(out.exports).to.equal('BBBB')
      // the cache: B's data is kept under the module's path, then the module's source becomes A
      writeFileSync(module, b)
      const first = new CompileCache(cacheDir, uid)
      expect(run(first, module)).to.equal('BBBB')
      first.flush()
      writeFileSync(module, a)
      const second = new CompileCache(cacheDir, uid)
      expect(run(second, module)).to.equal('AAAA')
      expect(second.stats).to.include({hits: 0, misses: 1})
      second.flush()
      const third = new CompileCache(cacheDir, uid)
      expect(run(third, module)).to.equal('AAAA')
      expect(third.stats.hits).to.equal(1)
    })

    it('a cache file altered anywhere is ignored whole, and written anew', () => {
      const first = new CompileCache(cacheDir, uid)
      run(first, module)
      first.flush()
      const file = cacheFile(cacheDir)
      const bytes = readFileSync(file)
      for (const at of [bytes.length - 1, 50, 8]) {
        const altered = Buffer.from(bytes)
        altered[at] ^= 0xff
        writeFileSync(file, altered, {mode: 0o600})
        const cache = new CompileCache(cacheDir, uid)
        expect(run(cache, module)).to.deep.equal(expected)
        expect(cache.stats).to.include({hits: 0, misses: 1, invalidFile: true})
        cache.flush()
        const again = new CompileCache(cacheDir, uid)
        expect(run(again, module)).to.deep.equal(expected)
        expect(again.stats).to.include({hits: 1, invalidFile: false})
      }
    })

    it('a cache file another uid owns, that others may write, or that is a symbolic link is not read', () => {
      const first = new CompileCache(cacheDir, uid)
      run(first, module)
      first.flush()
      const file = cacheFile(cacheDir)
      // read as if by another user: the file is not theirs
      const other = new CompileCache(cacheDir, otherUid)
      expect(run(other, module)).to.deep.equal(expected)
      expect(other.stats).to.include({hits: 0, invalidFile: true})
      chmodSync(file, 0o666)
      const writable = new CompileCache(cacheDir, uid)
      expect(run(writable, module)).to.deep.equal(expected)
      expect(writable.stats).to.include({hits: 0, invalidFile: true})
      chmodSync(file, 0o600)
      renameSync(file, join(dir, 'elsewhere.bin'))
      symlinkSync(join(dir, 'elsewhere.bin'), file)
      const linked = new CompileCache(cacheDir, uid)
      expect(run(linked, module)).to.deep.equal(expected)
      expect(linked.stats.hits).to.equal(0)
      // and a write replaces the link, not what it points at
      linked.flush()
      expect(lstatSync(file).isSymbolicLink()).to.equal(false)
    })

    it('a module that may call import() is left to Node, which alone can load what it imports', () => {
      const cache = new CompileCache(cacheDir, uid)
      expect(cache.compile('module.exports = () => import("./x.mjs")', module)).to.equal(undefined)
      expect(cache.compile('module.exports = () => import /* x */ ("./x.mjs")', module)).to.equal(undefined)
      expect(cache.stats.left).to.equal(2)
    })
  })

  it('hooked into Node: a tree of modules runs the same from the cache, a second run compiles none of it, and data altered or rejected changes nothing', function () {
    this.timeout(60_000)
    // as root the cache is refused, so the child runs as nobody where nobody can read the repository
    const asNobody = uid === 0 ? ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups', '--'] : []
    if (uid === 0 && spawnSync(asNobody[0], [...asNobody.slice(1), 'test', '-r', SOURCE]).status !== 0) this.skip()
    const tree = join(dir, 'tree')
    mkdirSync(tree)
    writeFileSync(join(tree, 'main.cjs'), [
      'const dep = require("./dep.cjs")',
      'let syntax; try { require("./bad.cjs") } catch (error) { syntax = error.name }',
      'let thrown; try { require("./throws.cjs") } catch (error) { thrown = error.stack.split("\\n")[1].includes("throws.cjs") }',
      'module.exports = {dep, bin: require("./bin.cjs"), lazy: typeof require("./lazy.cjs"), syntax, thrown, self: this === module.exports,',
      '  args: arguments.length, file: __filename === require.resolve("./main.cjs"), paths: Array.isArray(require.resolve.paths("x")),',
      '  cache: require.cache[require.resolve("./dep.cjs")].exports === dep}',
    ].join('\n'))
    writeFileSync(join(tree, 'dep.cjs'), 'module.exports = "dep:" + require("./leaf.cjs") + ":" + require("node:path").basename(__dirname)')
    writeFileSync(join(tree, 'leaf.cjs'), 'module.exports = "leaf"')
    writeFileSync(join(tree, 'bin.cjs'), '#!/usr/bin/env node\nmodule.exports = "bin"')
    writeFileSync(join(tree, 'lazy.cjs'), 'module.exports = () => import("./leaf.cjs")')
    writeFileSync(join(tree, 'bad.cjs'), 'module.exports = {')
    writeFileSync(join(tree, 'throws.cjs'), 'throw new Error("at load")')
    writeFileSync(join(tree, 'run.mjs'), [
      'import {createRequire} from "node:module"',
      // tsx turns source maps on; with them on the cache leaves everything to Node
      'process.setSourceMapsEnabled(false)',
      `const {installCompileCache} = await import(${JSON.stringify(SOURCE)})`,
      'const {cache, refusal} = installCompileCache({dir: process.argv[2], env: {}})',
      'const out = createRequire(import.meta.url)("./main.cjs")',
      'console.log(JSON.stringify({out, refusal, stats: cache && cache.stats}))',
    ].join('\n'))
    chmodSync(tree, 0o755)
    const child = () => {
      const result = spawnSync(asNobody[0] ?? process.execPath, [...asNobody.slice(1), ...(asNobody.length ? [process.execPath] : []), '--import', 'tsx', join(tree, 'run.mjs'), cacheDir],
        {encoding: 'utf8', cwd: process.cwd(), timeout: 30_000})
      expect(result.status, result.stderr).to.equal(0)
      return JSON.parse(result.stdout)
    }
    chmodSync(dir, 0o777)
    const expected = {dep: 'dep:leaf:tree', bin: 'bin', lazy: 'function', syntax: 'SyntaxError', thrown: true, self: true, args: 5, file: true, paths: true, cache: true}
    const first = child()
    expect(first.refusal).to.equal(undefined)
    expect(first.out).to.deep.equal(expected)
    // main, dep, leaf, bin and throws compiled from source; lazy (import()) and bad (a syntax error) left to Node
    expect(first.stats).to.include({hits: 0, misses: 5, left: 2})
    const second = child()
    expect(second.out).to.deep.equal(expected)
    expect(second.stats).to.include({hits: 5, misses: 0, left: 2})
    // a byte of the data changed: the file is ignored, everything compiled from source, the file written anew
    const file = cacheFile(cacheDir)
    const bytes = readFileSync(file)
    bytes[bytes.length - 100] ^= 0xff
    writeFileSync(file, bytes)
    const altered = child()
    expect(altered.out).to.deep.equal(expected)
    expect(altered.stats).to.include({hits: 0, misses: 5, invalidFile: true})
    expect(child().stats).to.include({hits: 5, invalidFile: false})
    // the data zeroed and the file's own sha256 made to match (only V8's check is left): V8 rejects it, and the
    // modules are compiled from source and their data written anew
    const whole = readFileSync(file)
    whole.fill(0, 44 + whole.readUInt32LE(40))
    createHash('sha256').update(whole.subarray(40)).digest().copy(whole, 8)
    writeFileSync(file, whole)
    const rejected = child()
    expect(rejected.out).to.deep.equal(expected)
    expect(rejected.stats).to.include({hits: 0, rejected: 5, invalidFile: false})
    expect(child().stats).to.include({hits: 5, rejected: 0})
  })
})
