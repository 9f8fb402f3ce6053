// Where an OS image comes from: a local manifest path, a file:// URL or an https:// URL. Image files are
// resolved relative to the manifest's own location, so a directory or a web folder can serve a release. The
// manifest names each file's sha256; the manifest itself can be pinned (`URL#sha256=<hex>`), which makes an
// https source as trustworthy as the pin. Plain http is taken only from this machine's loopback (a local
// mirror): anyone on the path could otherwise serve another image, manifest and all.
import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {readFile, stat} from 'node:fs/promises'
import {dirname, join, resolve} from 'node:path'
import {Readable} from 'node:stream'
import {fileURLToPath} from 'node:url'

/** manifestSha256: the pinned digest of the manifest's bytes (lower-case hex), from `#sha256=` on the URL. */
export type ImageSource = {kind: 'path'; manifestPath: string; manifestSha256?: string} | {kind: 'url'; manifestUrl: URL; manifestSha256?: string}

export interface OpenedFile {
  stream: Readable
  /** Length as announced by the source (stat size or Content-Length), when known. */
  length?: number
}

const MAX_MANIFEST_BYTES = 1024 * 1024
const MAX_REDIRECTS = 5
const PIN = /^sha256=([0-9a-f]{64})$/i

export class SourceError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SourceError'
  }
}

/** This machine's own addresses: plain http there never crosses a network. */
function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

/** Whether a download may come from `url`: https anywhere, http only from loopback. */
export function isTrustedTransport(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))
}

/** Classifies a --os value. Relative paths are resolved against `cwd`. A URL may end in `#sha256=<hex>`. */
export function parseImageSource(text: string, cwd = process.cwd()): ImageSource {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    let url: URL
    try {
      url = new URL(text)
    } catch {
      throw new SourceError(`not a valid URL: ${text}`)
    }
    let manifestSha256: string | undefined
    if (url.hash) {
      const pin = PIN.exec(url.hash.slice(1))
      if (!pin) throw new SourceError(`${text}: the only fragment a manifest URL takes is #sha256=<64 hex digits> (the manifest's own digest)`)
      manifestSha256 = pin[1].toLowerCase()
      url.hash = ''
    }
    const pinned = manifestSha256 ? {manifestSha256} : {}
    if (url.protocol === 'file:') return {kind: 'path', manifestPath: fileURLToPath(url), ...pinned}
    if (url.protocol === 'https:' || url.protocol === 'http:') {
      if (!isTrustedTransport(url)) {
        throw new SourceError(`${text}: plain http:// can be changed by anyone on the way; use https:// (or a file path), and pin the manifest with #sha256=<hex> if you can`)
      }
      return {kind: 'url', manifestUrl: url, ...pinned}
    }
    throw new SourceError(`unsupported URL scheme ${url.protocol} in ${text}: use a path, file:// or https://`)
  }
  return {kind: 'path', manifestPath: resolve(cwd, text)}
}

export function describeSource(source: ImageSource): string {
  return source.kind === 'path' ? source.manifestPath : source.manifestUrl.href
}

/** Where a file named in the manifest lives, as text for messages. */
export function fileLocation(source: ImageSource, name: string): string {
  return source.kind === 'path' ? join(dirname(source.manifestPath), name) : new URL(name, source.manifestUrl).href
}

/** GET with redirects followed by hand: each hop must be as trusted as the first (never https to http). */
async function httpGet(url: URL, signal?: AbortSignal): Promise<Response> {
  if (!isTrustedTransport(url)) throw new SourceError(`cannot download ${url.href}: not https; refused`)
  let response: Response
  let at = url
  for (let hop = 0; ; hop++) {
    try {
      response = await fetch(at, {signal, redirect: 'manual'})
    } catch (error) {
      const cause = (error as {cause?: {message?: string}}).cause?.message
      throw new SourceError(`cannot download ${url.href}: ${cause ?? (error as Error).message}`)
    }
    const location = response.headers.get('location')
    if (response.status < 300 || response.status > 399 || location === null) break
    await response.body?.cancel().catch(() => {})
    const next = new URL(location, at)
    if (!isTrustedTransport(next) || (at.protocol === 'https:' && next.protocol !== 'https:')) {
      throw new SourceError(`cannot download ${url.href}: it redirects to ${next.href}, which is not https; refused`)
    }
    if (hop >= MAX_REDIRECTS) throw new SourceError(`cannot download ${url.href}: more than ${MAX_REDIRECTS} redirects`)
    at = next
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel().catch(() => {})
    throw new SourceError(`cannot download ${url.href}: HTTP ${response.status} ${response.statusText}`.trimEnd())
  }
  return response
}

async function readManifestBytes(source: ImageSource, signal?: AbortSignal): Promise<Buffer> {
  if (source.kind === 'path') {
    const info = await stat(source.manifestPath).catch(() => undefined)
    if (!info) throw new SourceError(`no manifest at ${source.manifestPath}: build one with \`sudo dlite os build\` or pass --os <path or URL>`)
    if (!info.isFile()) throw new SourceError(`${source.manifestPath} is not a file: pass the manifest.json itself`)
    if (info.size > MAX_MANIFEST_BYTES) throw new SourceError(`${source.manifestPath} is too large to be a manifest`)
    return readFile(source.manifestPath)
  }
  const response = await httpGet(source.manifestUrl, signal)
  const bytes = Buffer.from(await response.arrayBuffer())
  if (bytes.length > MAX_MANIFEST_BYTES) throw new SourceError(`${source.manifestUrl.href} is too large to be a manifest`)
  return bytes
}

/** The manifest's text, checked against its pin when the source has one. */
export async function readManifestText(source: ImageSource, signal?: AbortSignal): Promise<string> {
  const bytes = await readManifestBytes(source, signal)
  if (source.manifestSha256) {
    const digest = createHash('sha256').update(bytes).digest('hex')
    if (digest !== source.manifestSha256) {
      throw new SourceError(`the manifest at ${describeSource(source)} has sha256 ${digest}, not the pinned ${source.manifestSha256}: it is not the image you pinned, so nothing was installed (a newer release needs its own pin: --os <url>#sha256=<its digest>)`)
    }
  }
  return bytes.toString('utf8')
}

/** Opens one image file for streaming. */
export async function openImageFile(source: ImageSource, name: string, signal?: AbortSignal): Promise<OpenedFile> {
  if (source.kind === 'path') {
    const path = join(dirname(source.manifestPath), name)
    const info = await stat(path).catch(() => undefined)
    if (!info?.isFile()) throw new SourceError(`${name}: missing at ${path}`)
    return {stream: createReadStream(path, {signal}), length: info.size}
  }
  const url = new URL(name, source.manifestUrl)
  const response = await httpGet(url, signal)
  // With a Content-Encoding, Content-Length counts compressed bytes while fetch yields decoded ones.
  const header = response.headers.get('content-encoding') ? null : response.headers.get('content-length')
  const length = header !== null && /^[0-9]+$/.test(header) ? Number(header) : undefined
  // Readable.fromWeb wants the DOM ReadableStream type; undici's is the same object at runtime.
  return {stream: Readable.fromWeb(response.body as never), length}
}
