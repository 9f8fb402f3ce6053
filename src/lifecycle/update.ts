// `dlite update`: a new OS image, verified before anything changes, the previous one kept; a running VM is
// restarted on it, and if it does not become ready the previous image is restored and booted again.
// The data disk is never touched, so images, containers and volumes survive an update and a rollback.
import {Listr} from 'listr2'

import type {Renderer} from 'dlite-kit/errors'

import {readConfig, type ImageSelection} from '../config/index.js'
import {rollbackImage, selectImage, updateConfig} from '../config/store.js'
import {installImage, pruneImages, removeImage} from '../image/index.js'
import {homeLayout} from '../paths.js'
import {progressBar} from '../tasks/progress-bar.js'
import {CLEAN_STOP_TIMEOUT_MS} from '../daemon/control-protocol.js'
import {startVm, stopVm} from './vm-control.js'
import {vmStatus} from './vm-status.js'

export interface UpdateOutcome {
  action: 'already-installed' | 'updated' | 'rolled-back'
  from: string
  to: string
  restarted: boolean
  removedImages: string[]
}

export class UpdateRolledBack extends Error {}

interface RestartOptions {
  home: string
  entry: string
  timeoutMs: number
}

async function restartVm(options: RestartOptions): Promise<void> {
  const config = await readConfig(options.home)
  await stopVm(options.home, config, CLEAN_STOP_TIMEOUT_MS, {cold: true})
  try {
    await startVm({...options, network: config.network, onStage: () => {}})
  } catch (error) {
    // A start that timed out may leave its daemon booting: stop it so the next attempt starts clean.
    await stopVm(options.home, config, 10_000, {cold: true}).catch(() => false)
    throw error
  }
}

export async function isRunning(home: string): Promise<boolean> {
  return (await vmStatus(home))?.state === 'running'
}

export async function updateImage(options: RestartOptions & {source: string; restart: boolean; renderer: Renderer}): Promise<UpdateOutcome> {
  const layout = homeLayout(options.home)
  const before = (await readConfig(options.home)).image
  const from = before.current
  const outcome: UpdateOutcome = {action: 'updated', from, to: from, restarted: false, removedImages: []}
  let selected: ImageSelection = before
  await new Listr([
    {
      title: 'Fetch and verify the OS image',
      task: async (_ctx, task) => {
        const result = await installImage(layout.images, options.source, {onProgress: (p) => (task.output = progressBar(p))})
        outcome.to = result.version
        task.title = `OS image ${result.version} verified (${result.manifest.files.length} files, sha256)`
      },
      rendererOptions: {outputBar: 1},
    },
    {
      title: 'Select the new image (the previous one is kept for rollback)',
      task: () => {
        selected = selectImage(options.home, outcome.to).image
      },
    },
    {
      title: 'Restart the VM on the new image',
      enabled: () => options.restart,
      task: async () => {
        try {
          await restartVm(options)
          outcome.restarted = true
        } catch (error) {
          throw await rollBackAfterFailedStart(options, outcome.to, before, error as Error)
        }
      },
    },
    {
      title: 'Remove images older than the previous one',
      task: () => {
        outcome.removedImages = pruneImages(layout.images, [selected.current, selected.previous])
      },
    },
  ], {renderer: options.renderer as 'default', exitOnError: true}).run()
  return outcome
}

// Puts back exactly the selection from before the update (so a later --rollback never lands on the image
// that just failed) and deletes the failed image.
async function rollBackAfterFailedStart(options: RestartOptions, failed: string, before: ImageSelection, cause: Error): Promise<Error> {
  updateConfig(options.home, {image: before})
  removeImage(homeLayout(options.home).images, failed)
  const previous = before.current
  const logs = homeLayout(options.home).logs
  try {
    await restartVm(options)
  } catch (error) {
    return new Error(`OS ${failed} did not become ready (${cause.message}); switched back to ${previous}, ` +
      `but it did not start either: ${(error as Error).message}. Logs: ${logs}`)
  }
  return new UpdateRolledBack(`OS ${failed} did not become ready (${cause.message}); rolled back to ${previous}, ` +
    `which is running and docker answers. Logs: ${logs}`)
}

/** `update --rollback`: back to the previous image (and the current one becomes the new previous). */
export async function rollBack(options: RestartOptions & {restart: boolean}): Promise<UpdateOutcome> {
  const before = (await readConfig(options.home)).image
  if (!before.previous) throw new Error('there is no previous OS image to roll back to')
  rollbackImage(options.home)
  if (options.restart) await restartVm(options)
  return {action: 'rolled-back', from: before.current, to: before.previous, restarted: options.restart, removedImages: []}
}
