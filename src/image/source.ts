// Where an OS image comes from: a local manifest path, a file:// URL or an http(s):// URL. Image files are
// resolved relative to the manifest's own location, so a directory or a web folder can serve a release.
import {createReadStream} from 'node:fs'
import {readFile, stat} from 'node:fs/promises'
import {dirname, join, resolve} from 'node:path'
import {Readable} from 'node:stream'
import {fileURLToPath} from 'node:url'

export type ImageSource = {kind: 'path'; manifestPath: string} | {kind: 'url'; manifestUrl: URL}

export interface OpenedFile {
  stream: Readable
  /** Length as announced by the source (stat size or Content-Length), when known. */
  length?: number
}

const MAX_MANIFEST_BYTES = 1024 * 1024

export class SourceError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SourceError'
  }
}

/** Classifies a --os value. Relative paths are resolved against `cwd`. */
export function parseImageSource(text: string, cwd = process.cwd()): ImageSource {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    let url: URL
    try {
      url = new URL(text)
    } catch {
      throw new SourceError(`not a valid URL: ${text}`)
    }
    if (url.protocol === 'file:') return {kind: 'path', manifestPath: fileURLToPath(url)}
    if (url.protocol === 'http:' || url.protocol === 'https:') return {kind: 'url', manifestUrl: url}
    throw new SourceError(`unsupported URL scheme ${url.protocol} in ${text}: use a path, file:// or http(s)://`)
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

async function httpGet(url: URL, signal?: AbortSignal): Promise<Response> {
  let response: Response
  try {
    response = await fetch(url, {signal, redirect: 'follow'})
  } catch (error) {
    const cause = (error as {cause?: {message?: string}}).cause?.message
    throw new SourceError(`cannot download ${url.href}: ${cause ?? (error as Error).message}`)
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel().catch(() => {})
    throw new SourceError(`cannot download ${url.href}: HTTP ${response.status} ${response.statusText}`.trimEnd())
  }
  return response
}

export async function readManifestText(source: ImageSource, signal?: AbortSignal): Promise<string> {
  if (source.kind === 'path') {
    const info = await stat(source.manifestPath).catch(() => undefined)
    if (!info) throw new SourceError(`no manifest at ${source.manifestPath}: build one with \`sudo dlite os build\` or pass --os <path or URL>`)
    if (!info.isFile()) throw new SourceError(`${source.manifestPath} is not a file: pass the manifest.json itself`)
    if (info.size > MAX_MANIFEST_BYTES) throw new SourceError(`${source.manifestPath} is too large to be a manifest`)
    return readFile(source.manifestPath, 'utf8')
  }
  const response = await httpGet(source.manifestUrl, signal)
  const text = await response.text()
  if (Buffer.byteLength(text) > MAX_MANIFEST_BYTES) throw new SourceError(`${source.manifestUrl.href} is too large to be a manifest`)
  return text
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
