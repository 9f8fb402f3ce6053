// A V8 code cache for the CommonJS modules the CLI loads (@oclif/core and its dependencies, about 110 files on
// every invocation): compiling them is a large part of a short command's run, and Node 20 has no
// module.enableCompileCache. Module.prototype._compile compiles each module as a vm.Script with the data cached
// by an earlier run; the data of a module compiled without it is made at exit (then it holds the functions that
// run called too, not only the top level) and the cache file rewritten, atomically (temp file, rename). One file
// for all modules, one per Node runtime: one read at startup, not one per module.
//
// Cached data is code: V8 checks it only against the source's length, not its text, and does not checksum it, so
// data planted or damaged would run as if it were the module. Hence:
// - never as root (euid 0): root does not load code-derived data from a path a user can write;
// - only in a directory owned by this uid and not writable by group or others (created 0700), and only from a
//   regular file owned by this uid that no one else can write (written 0600);
// - the file carries a sha256 of its contents, and each module's data a sha256 of the module's path and source:
//   a file altered is ignored whole, data made for another source (even of the same length) is not used; the
//   source is compiled and the data rewritten, as when V8 rejects it (cachedDataRejected);
// - a module that may call import() is left to Node (a vm.Script has no loader of its own for it), and so is
//   everything when source maps or a policy are on;
// - DLITE_NO_COMPILE_CACHE=1 turns it off.
// Where: $XDG_CACHE_HOME/dlite/compile-cache, else ~/.cache/dlite/compile-cache. This module imports no oclif and
// is loaded first by bin/run.js; any failure of the cache is silent and leaves the module to Node.
import {createHash} from 'node:crypto'
import {accessSync, closeSync, constants, existsSync, fstatSync, lstatSync, mkdirSync, openSync, readSync, renameSync, unlinkSync, writeSync} from 'node:fs'
import Module from 'node:module'
import {homedir} from 'node:os'
import {dirname, isAbsolute, join} from 'node:path'
import {Script} from 'node:vm'

export const NO_COMPILE_CACHE = 'DLITE_NO_COMPILE_CACHE'

const MAGIC = Buffer.from('dlitecc2')
const HASH = 32
// magic, sha256 of what follows, the index's length; then the index (JSON) and the modules' data
const HEADER = MAGIC.length + HASH + 4
// a file this large is not read, and is started afresh when written
const MAX_BYTES = 64 * 1024 * 1024
// Node's own CommonJS wrapper: the module's code sees the same five arguments, `this` and `arguments`
const WRAP_START = '(function (exports, require, module, __filename, __dirname) { '
const WRAP_END = '\n});'
// import( anywhere, also with whitespace or a comment before the parenthesis, also in a string: conservative
const DYNAMIC_IMPORT = /\bimport\s*(?:\(|\/[*/])/
const RUNTIME = `${process.version} ${process.arch} v8 ${process.versions.v8}`
// how the stub that Node compiles in a cached module's place finds the compiled module
const COMPILED = Symbol.for('dlite.compileCache.compiled')
const STUB = `const f = module[Symbol.for('dlite.compileCache.compiled')]; delete module[Symbol.for('dlite.compileCache.compiled')]; ` +
  'return f.call(this, exports, require, module, __filename, __dirname)'
const FLUSH_AFTER_MS = 10_000

type ModuleWrapper = (this: unknown, exports: unknown, require: unknown, module: unknown, filename: string, dirname: string) => unknown
type Compile = (this: CompiledModule, content: string, filename: string, format?: string) => unknown
interface CompiledModule {[COMPILED]?: ModuleWrapper}
/** One module's data: `key` is the sha256 (hex) of its path and source. */
interface Entry {key: string; data: Buffer}
interface IndexRow {file: string; key: string; offset: number; length: number}

/** Where the cache lives for this environment: $XDG_CACHE_HOME/dlite/compile-cache, else ~/.cache/dlite/compile-cache. */
export function compileCacheDir(env: NodeJS.ProcessEnv = process.env, home: () => string = homedir): string {
  // the XDG spec: a relative XDG_CACHE_HOME is invalid and ignored
  const base = env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : join(home(), '.cache')
  return join(base, 'dlite', 'compile-cache')
}

/** Why the cache is off for this process before any directory is looked at; undefined when it may be used. */
export function compileCacheRefusal(env: NodeJS.ProcessEnv = process.env, euid: number | undefined = process.geteuid?.()): string | undefined {
  const off = env[NO_COMPILE_CACHE]
  if (off !== undefined && off !== '' && off !== '0') return `${NO_COMPILE_CACHE} is set`
  if (euid === undefined) return 'this platform has no user ids'
  if (euid === 0) return 'running as root'
  return undefined
}

/** Creates the directory (0700) when missing; why it must not be used, or undefined when it is this uid's alone. */
export function cacheDirProblem(dir: string, uid: number): string | undefined {
  try {
    mkdirSync(dir, {recursive: true, mode: 0o700})
    const st = lstatSync(dir)
    if (st.isSymbolicLink()) return `${dir} is a symbolic link`
    if (!st.isDirectory()) return `${dir} is not a directory`
    if (st.uid !== uid) return `${dir} is owned by uid ${st.uid}, not ${uid}`
    if ((st.mode & 0o022) !== 0) return `${dir} is writable by group or others (mode ${(st.mode & 0o777).toString(8)})`
    // one this process cannot write (read-only, or 0500) would cost every run the data it cannot keep
    accessSync(dir, constants.W_OK)
    return undefined
  } catch (error) {
    return `${dir}: ${(error as Error).message}`
  }
}

function dataBytes(entries: Map<string, Entry>): number {
  let bytes = 0
  for (const entry of entries.values()) bytes += entry.data.length
  return bytes
}

function sha256(...parts: (string | Buffer)[]): Buffer {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(part)
  return hash.digest()
}

/** The cache file of one directory, for one uid and this runtime: compiles modules with their data, writes what was missing. */
export class CompileCache {
  readonly stats = {hits: 0, misses: 0, rejected: 0, left: 0, written: 0, invalidFile: false}
  readonly file: string
  private entries = new Map<string, Entry>()
  private pending = new Map<string, {key: string; script: Script}>()
  private timer?: NodeJS.Timeout

  constructor(readonly dir: string, private readonly uid: number) {
    this.file = join(dir, `v8-${sha256(RUNTIME).toString('hex').slice(0, 16)}.bin`)
    this.entries = this.read()
  }

  /** The module's wrapper function, compiled with its cached data when there is valid data; undefined leaves it to Node. */
  compile(content: string, filename: string): ModuleWrapper | undefined {
    if (DYNAMIC_IMPORT.test(content)) {
      this.stats.left++
      return undefined
    }
    const key = sha256(filename, '\0', content).toString('hex')
    const entry = this.entries.get(filename)
    const cachedData = entry?.key === key ? entry.data : undefined
    // a hashbang is a comment only on a script's first line; the wrapper comes before it
    const body = content.startsWith('#!') ? `//${content.slice(2)}` : content
    let script: Script
    try {
      script = new Script(WRAP_START + body + WRAP_END, {filename, cachedData})
    } catch {
      // a syntax error (or an ES module Node may detect): Node compiles it and reports as it does
      this.stats.left++
      return undefined
    }
    if (cachedData && !script.cachedDataRejected) this.stats.hits++
    else {
      if (cachedData) this.stats.rejected++
      else this.stats.misses++
      this.later(filename, key, script)
    }
    return script.runInThisContext({displayErrors: true}) as ModuleWrapper
  }

  /** Writes the data of the modules compiled without it (at exit, or after a while in a long-running process). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (this.pending.size === 0) return
    const fresh = new Map<string, Entry>()
    for (const [file, {key, script}] of this.pending) {
      try {
        fresh.set(file, {key, data: script.createCachedData()})
      } catch {}
    }
    this.pending.clear()
    // what other commands loaded stays while its module is there, unless the file grew too large (modules of
    // many versions, long gone): then it starts afresh with this run's
    let entries = new Map<string, Entry>()
    for (const [file, entry] of this.entries) if (!fresh.has(file) && existsSync(file)) entries.set(file, entry)
    for (const [file, entry] of fresh) entries.set(file, entry)
    if (dataBytes(entries) > MAX_BYTES / 2) entries = fresh
    try {
      this.write(entries)
      this.entries = entries
      this.stats.written++
    } catch {}
  }

  private later(filename: string, key: string, script: Script): void {
    this.pending.set(filename, {key, script})
    if (this.timer) return
    this.timer = setTimeout(() => this.flush(), FLUSH_AFTER_MS)
    this.timer.unref()
  }

  // The modules' data, when the file is this uid's alone and whole; none otherwise.
  private read(): Map<string, Entry> {
    const entries = new Map<string, Entry>()
    let fd: number
    try {
      fd = openSync(this.file, constants.O_RDONLY | constants.O_NOFOLLOW)
    } catch {
      return entries
    }
    try {
      const st = fstatSync(fd)
      if (!st.isFile() || st.uid !== this.uid || (st.mode & 0o022) !== 0 || st.size < HEADER || st.size > MAX_BYTES) return this.invalid(entries)
      const buffer = Buffer.allocUnsafe(st.size)
      let read = 0
      while (read < st.size) {
        const n = readSync(fd, buffer, read, st.size - read, read)
        if (n === 0) break
        read += n
      }
      if (read !== st.size || !buffer.subarray(0, MAGIC.length).equals(MAGIC)) return this.invalid(entries)
      const body = buffer.subarray(MAGIC.length + HASH)
      if (!buffer.subarray(MAGIC.length, MAGIC.length + HASH).equals(sha256(body))) return this.invalid(entries)
      const indexLength = buffer.readUInt32LE(MAGIC.length + HASH)
      const data = buffer.subarray(HEADER + indexLength)
      const index = JSON.parse(buffer.toString('utf8', HEADER, HEADER + indexLength)) as IndexRow[]
      for (const {file, key, offset, length} of index) {
        if (offset + length > data.length) return this.invalid(new Map())
        entries.set(file, {key, data: data.subarray(offset, offset + length)})
      }
      return entries
    } catch {
      return this.invalid(new Map())
    } finally {
      closeSync(fd)
    }
  }

  private invalid(entries: Map<string, Entry>): Map<string, Entry> {
    this.stats.invalidFile = true
    return entries
  }

  private write(entries: Map<string, Entry>): void {
    const index: IndexRow[] = []
    const data: Buffer[] = []
    let offset = 0
    for (const [file, entry] of entries) {
      index.push({file, key: entry.key, offset, length: entry.data.length})
      data.push(entry.data)
      offset += entry.data.length
    }
    const indexBytes = Buffer.from(JSON.stringify(index))
    const indexLength = Buffer.alloc(4)
    indexLength.writeUInt32LE(indexBytes.length)
    const body = Buffer.concat([indexLength, indexBytes, ...data])
    if (body.length + HEADER > MAX_BYTES) throw new Error('too large for a compile cache file')
    const whole = Buffer.concat([MAGIC, sha256(body), body])
    const temp = `${this.file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
    // O_EXCL: never through a name someone else put there
    const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
    try {
      try {
        let written = 0
        while (written < whole.length) written += writeSync(fd, whole, written, whole.length - written)
      } finally {
        closeSync(fd)
      }
      renameSync(temp, this.file)
    } catch (error) {
      try {
        unlinkSync(temp)
      } catch {}
      throw error
    }
  }
}

/** The `require` a module's code gets, as Node makes it (without a policy): its own, resolving from it. */
function requireFor(module: Module): NodeJS.Require {
  const require = ((id: string) => module.require(id)) as NodeJS.Require
  const loader = Module as unknown as {
    _resolveFilename(request: string, parent: Module, isMain: boolean, options?: {paths?: string[]}): string
    _resolveLookupPaths(request: string, parent: Module): string[] | null
    _extensions: NodeJS.Require['extensions']
    _cache: NodeJS.Require['cache']
  }
  const resolve = ((request: string, options?: {paths?: string[]}) => {
    if (typeof request !== 'string') throw new TypeError(`The "request" argument must be of type string. Received ${typeof request}`)
    return loader._resolveFilename(request, module, false, options)
  }) as NodeJS.RequireResolve
  resolve.paths = (request: string) => {
    if (typeof request !== 'string') throw new TypeError(`The "request" argument must be of type string. Received ${typeof request}`)
    return loader._resolveLookupPaths(request, module)
  }
  require.resolve = resolve
  require.main = process.mainModule
  require.extensions = loader._extensions
  require.cache = loader._cache
  return require
}

export interface InstallOptions {
  env?: NodeJS.ProcessEnv
  euid?: number
  dir?: string
  /** what to hook (Module.prototype); tests pass their own */
  target?: {_compile: Compile}
}

/** Hooks the CommonJS loader to use the cache, unless it must not be used; says which, and why not. */
export function installCompileCache(options: InstallOptions = {}): {cache?: CompileCache; refusal?: string} {
  const env = options.env ?? process.env
  const euid = 'euid' in options ? options.euid : process.geteuid?.()
  const refusal = compileCacheRefusal(env, euid)
  if (refusal !== undefined) return {refusal}
  const target = options.target ?? (Module.prototype as unknown as {_compile: Compile})
  const original = target._compile
  if (typeof original !== 'function') return {refusal: 'this Node has no Module.prototype._compile'}
  const dir = options.dir ?? compileCacheDir(env)
  const problem = cacheDirProblem(dir, euid!)
  if (problem !== undefined) return {refusal: problem}
  const cache = new CompileCache(dir, euid!)
  const nodeOptions = `${process.execArgv.join(' ')} ${env.NODE_OPTIONS ?? ''}`
  const unsupported = /--experimental-policy|--experimental-permission/.test(nodeOptions)
  // how many module bodies run at this moment (a module's requires run inside its body)
  let depth = 0
  target._compile = function (this: CompiledModule, content: string, filename: string, format?: string): unknown {
    // an ES module, a policy that checks the source Node compiles, source maps Node would read from the source
    if (format === 'module' || unsupported || process.sourceMapsEnabled || typeof content !== 'string') {
      return original.call(this, content, filename, format)
    }
    let compiled: ModuleWrapper | undefined
    try {
      compiled = cache.compile(content, filename)
    } catch {}
    depth++
    try {
      if (!compiled) return original.call(this, content, filename, format)
      // A module that no other module's body requires (an entry, or one an ES module imports) runs through Node's
      // own _compile, by a stub: it sets up what the tree below shares (the stat cache of its resolutions) and
      // handles a main module. A module required from a body runs here, with the require Node would give it.
      if (depth > 1 && this instanceof Module) {
        const exports = (this as unknown as Module).exports
        return compiled.call(exports, exports, requireFor(this as unknown as Module), this, filename, dirname(filename))
      }
      this[COMPILED] = compiled
      return original.call(this, STUB, filename, format)
    } finally {
      depth--
    }
  }
  process.once('exit', () => cache.flush())
  return {cache}
}
