// Turns the daemon's stage events into a listr2 pipeline: one task per stage, each settled by the events
// the daemon sends, so the user sees start-up progress as it happens.
import {Listr, type ListrTask} from 'listr2'

import type {Renderer} from 'dlite-kit/errors'

import type {StageEvent, StageName} from '../daemon/control-protocol.js'

export const STAGE_TITLES: Record<StageName, string> = {
  network: 'Set up the VM network',
  share: 'Share the home directory',
  vm: 'Start the VM (QEMU)',
  boot: 'Boot the guest OS',
  docker: 'Wait for docker over TLS',
  socket: 'Expose the host docker socket',
  ports: 'Forward published ports to localhost',
  context: 'Create the docker context',
  plugins: 'Run plugin hooks',
}

interface Deferred {
  promise: Promise<string | undefined>
  settle(event: StageEvent): void
  fail(error: Error): void
}

function deferred(): Deferred {
  let resolve!: (value: string | undefined) => void
  let reject!: (error: Error) => void
  const promise = new Promise<string | undefined>((res, rej) => {
    resolve = res
    reject = rej
  })
  promise.catch(() => {}) // a stage may fail before its task awaits it
  return {
    promise,
    settle(event) {
      if (event.status === 'fail') reject(new Error(event.detail ?? `${event.stage} failed`))
      else if (event.status === 'done' || event.status === 'skip') resolve(event.status === 'skip' ? `skipped: ${event.detail ?? ''}` : event.detail)
    },
    fail: reject,
  }
}

export interface StagePipeline {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the renderer is chosen at run time
  listr: Listr<any, any, any>
  /** Feed each event from the daemon. */
  onEvent(event: StageEvent): void
  /** The whole start failed (e.g. the daemon died): fail whatever is still pending. */
  abort(error: Error): void
}

export function stagePipeline(stages: StageName[], renderer: Renderer): StagePipeline {
  const pending = new Map(stages.map((stage) => [stage, deferred()]))
  const tasks: ListrTask[] = stages.map((stage) => ({
    title: STAGE_TITLES[stage],
    task: async (_ctx, task) => {
      const detail = await pending.get(stage)!.promise
      if (detail) task.title = `${STAGE_TITLES[stage]}: ${detail}`
    },
  }))
  return {
    listr: new Listr(tasks, {renderer: renderer as 'default', exitOnError: true, rendererOptions: {collapseErrors: false}}),
    onEvent: (event) => pending.get(event.stage)?.settle(event),
    abort: (error) => {
      for (const d of pending.values()) d.fail(error)
    },
  }
}
