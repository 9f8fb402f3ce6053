// Watches the shared directory trees on the host and reports the paths that changed. macOS watches a whole
// tree with one FSEvents stream (fs.watch recursive); on Linux inotify watches one directory at a time, so
// every directory is watched by itself, breadth first, new ones as they appear, up to a cap: the cap bounds
// the kernel memory and the start-up walk of a huge home, and cuts the deepest directories first.
import {watch, type FSWatcher} from 'node:fs'
import {lstat, opendir} from 'node:fs/promises'
import {join, sep} from 'node:path'

export interface ShareWatchOptions {
  roots: string[]
  onChange: (path: string) => void
  log: (line: string) => void
  /** Trees inside the roots that are not watched: dlite's own (the VM's disk and logs change all the time). */
  exclude?: string[]
  /** Linux: at most this many directories watched (each is one inotify watch). */
  maxDirectories?: number
  platform?: NodeJS.Platform
}

export const DEFAULT_MAX_WATCHED_DIRECTORIES = 20_000

function isWithin(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep)
}

export class ShareWatch {
  private readonly watchers = new Map<string, FSWatcher>()
  private capped = false
  private closed = false

  constructor(private readonly options: ShareWatchOptions) {}

  get watchedDirectories(): number {
    return this.watchers.size
  }

  /** Resolves once every tree is walked (or the cap is reached). */
  async start(): Promise<void> {
    const recursive = (this.options.platform ?? process.platform) === 'darwin'
    for (const root of this.options.roots) {
      if (recursive) this.watchDirectory(root, true)
      else await this.walk(root)
    }
  }

  close(): void {
    this.closed = true
    for (const watcher of this.watchers.values()) watcher.close()
    this.watchers.clear()
  }

  private excluded(path: string): boolean {
    return (this.options.exclude ?? []).some((dir) => isWithin(path, dir))
  }

  private watchDirectory(dir: string, recursive = false): boolean {
    if (this.closed || this.watchers.has(dir) || this.excluded(dir)) return false
    if (this.watchers.size >= (this.options.maxDirectories ?? DEFAULT_MAX_WATCHED_DIRECTORIES)) {
      if (!this.capped) this.options.log(`share events: watching ${this.watchers.size} directories, the most there may be; changes deeper than that do not reach the VM's inotify`)
      this.capped = true
      return false
    }
    let watcher: FSWatcher
    try {
      watcher = watch(dir, {persistent: false, recursive}, (_event, name) => {
        if (name === null) return
        const path = join(dir, name.toString())
        if (this.excluded(path)) return
        this.options.onChange(path)
        // a new directory (or one renamed into the tree) is watched too; a gone one drops its watch
        if (!recursive) void this.follow(path)
      })
    } catch (error) {
      // the user's inotify watches are used up: stop here rather than fail on every directory left
      if ((error as NodeJS.ErrnoException).code === 'ENOSPC' || (error as NodeJS.ErrnoException).code === 'EMFILE') {
        this.options.log(`share events: the host allows no more inotify watches after ${this.watchers.size} directories; ` +
          'raise fs.inotify.max_user_watches (sysctl) to watch more')
        this.capped = true
      }
      return false // gone already, or not readable: nothing to watch
    }
    watcher.on('error', () => this.unwatch(dir))
    this.watchers.set(dir, watcher)
    return true
  }

  private unwatch(dir: string): void {
    this.watchers.get(dir)?.close()
    this.watchers.delete(dir)
  }

  private async follow(path: string): Promise<void> {
    const stat = await lstat(path).catch(() => undefined)
    if (stat?.isDirectory()) {
      if (!this.watchers.has(path)) await this.walk(path)
    } else if (this.watchers.has(path)) {
      this.unwatch(path)
    }
  }

  private async walk(root: string): Promise<void> {
    const queue = [root]
    while (queue.length > 0 && !this.closed) {
      const dir = queue.shift()!
      if (!this.watchDirectory(dir)) {
        if (this.capped) return
        continue
      }
      const entries = await opendir(dir).catch(() => undefined)
      if (!entries) continue
      // a symbolic link to a directory is not followed: it may lead out of the share, or in a circle
      for await (const entry of entries) if (entry.isDirectory()) queue.push(join(dir, entry.name))
    }
  }
}
