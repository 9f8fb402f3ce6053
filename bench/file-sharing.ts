// File sharing: sequential write and read (256 MiB) and a metadata pass (ls -lR over 10,000 files) on the
// host share inside the VM, over virtiofs and over 9p (DLITE_SHARE_TRANSPORT=9p), against the guest's own
// disk and the host natively. Each VM runs one privileged container; every round runs the three places in
// turn (share, guest disk, host), N rounds, medians.
import {execFileSync} from 'node:child_process'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {median, round} from './stats.js'
import type {BenchResult, BenchRow} from './result.js'
import {sandboxVm} from './sandbox-vm.js'

const ROUNDS = 3
const FILE_MIB = 256
const FILES = 10_000

type Op = 'write' | 'read' | 'stat'
type Place = 'virtiofs share' | '9p share' | 'guest disk' | 'host'

// Runs in the container; prints "<op> <start> <end>" in guest uptime seconds. The random source sits in
// tmpfs so generating it is not timed, and zeros would be discarded rather than written on the guest disk.
const GUEST_OP = `
set -e
t() { busybox cut -d' ' -f1 /proc/uptime; }
cold() { busybox sync; echo 3 > /proc/sys/vm/drop_caches; }
dir=$1; op=$2
case $op in
  write) cold; a=$(t); busybox dd if=/src/random of=$dir/seq bs=1M conv=fsync 2>/dev/null; b=$(t) ;;
  read) cold; a=$(t); busybox dd if=$dir/seq of=/dev/null bs=1M 2>/dev/null; b=$(t) ;;
  stat) cold; a=$(t); busybox ls -lR $dir/many > /dev/null; b=$(t) ;;
esac
echo "$op $a $b"
`

function hostSeconds(dir: string, op: Op): number {
  const start = process.hrtime.bigint()
  // O_DIRECT on the host: its page cache is as cold as the guest's (the guest drops its own before each op)
  if (op === 'write') execFileSync('dd', [`if=${join(dir, 'random')}`, `of=${join(dir, 'seq')}`, 'bs=1M', 'oflag=direct', 'conv=fsync'], {stdio: 'ignore'})
  if (op === 'read') execFileSync('dd', [`if=${join(dir, 'seq')}`, 'of=/dev/null', 'bs=1M', 'iflag=direct'], {stdio: 'ignore'})
  if (op === 'stat') execFileSync('ls', ['-lR', join(dir, 'many')], {stdio: 'ignore', maxBuffer: 64 * 1024 * 1024})
  return Number(process.hrtime.bigint() - start) / 1e9
}

async function measureTransport(transport: 'virtiofs' | '9p', samples: Record<string, number[]>): Promise<string> {
  const vm = await sandboxVm({start: true, env: transport === '9p' ? {DLITE_SHARE_TRANSPORT: '9p'} : {}})
  try {
    const share = join(vm.dir, 'share-bench')
    mkdirSync(join(share, 'many'), {recursive: true})
    for (let i = 0; i < FILES; i++) writeFileSync(join(share, 'many', `f${i}`), `${i}\n`)
    execFileSync('dd', ['if=/dev/urandom', `of=${join(share, 'random')}`, 'bs=1M', `count=${FILE_MIB}`], {stdio: 'ignore'})
    await vm.importBusybox()
    await vm.docker(['run', '-d', '--name', 'fs', '--privileged', '--tmpfs', `/src:size=${FILE_MIB + 16}m`, '-v', `${share}:/share`,
      'busybox:local', 'busybox', 'sleep', '86400'])
    await vm.docker(['exec', 'fs', 'busybox', 'sh', '-c', `busybox dd if=/dev/urandom of=/src/random bs=1M count=${FILE_MIB} 2>/dev/null && busybox mkdir -p /data && busybox cp -r /share/many /data/many`])
    const guest = async (dir: string, op: Op) => {
      const [, a, b] = (await vm.docker(['exec', 'fs', 'busybox', 'sh', '-c', GUEST_OP, 'sh', dir, op])).trim().split(' ')
      return Number(b) - Number(a)
    }
    const sharePlace: Place = transport === 'virtiofs' ? 'virtiofs share' : '9p share'
    for (let r = 0; r < ROUNDS; r++) {
      for (const op of ['write', 'read', 'stat'] as const) {
        samples[`${sharePlace}/${op}`].push(await guest('/share', op))
        samples[`guest disk/${op}`].push(await guest('/data', op))
        samples[`host/${op}`].push(hostSeconds(share, op))
      }
    }
    return (await vm.docker(['exec', 'fs', 'busybox', 'sh', '-c', 'busybox grep " /share " /proc/mounts'])).trim()
  } finally {
    await vm.close()
  }
}

export async function fileSharing(): Promise<BenchResult> {
  const places: Place[] = ['virtiofs share', '9p share', 'guest disk', 'host']
  const samples: Record<string, number[]> = Object.fromEntries(places.flatMap((p) => (['write', 'read', 'stat'] as const).map((op) => [`${p}/${op}`, []])))
  const mounts = [await measureTransport('virtiofs', samples), await measureTransport('9p', samples)]
  process.stderr.write(`share mounts seen in the guest: ${mounts.join(' | ')}\n`)
  const rows: BenchRow[] = []
  for (const op of ['write', 'read', 'stat'] as const) {
    const host = median(samples[`host/${op}`])
    for (const place of places.filter((p) => p !== 'host')) {
      const seconds = median(samples[`${place}/${op}`])
      if (op === 'stat') {
        rows.push({metric: `ls -lR of ${FILES} files, ${place}`, value: round(seconds, 2), unit: 's', baseline: round(host, 2), baselineName: 'host', ratio: round(seconds / host)})
      } else {
        rows.push({metric: `sequential ${op} ${FILE_MIB} MiB, ${place}`, value: round(FILE_MIB / seconds, 0), unit: 'MiB/s',
          baseline: round(FILE_MIB / host, 0), baselineName: 'host', ratio: round(host / seconds)})
      }
    }
  }
  return {
    name: 'file-sharing',
    method: `Two VMs in turn (2 vCPU, 2 GiB): the home share over virtiofs (virtiofsd cache=auto), then over 9p ` +
      `(DLITE_SHARE_TRANSPORT=9p). In each, one privileged busybox container; ${ROUNDS} rounds, each running every ` +
      `operation on the share, on the guest's own disk (the container's layer on the ext4 data disk) and on the host ` +
      `directory natively, in turn; medians. write: dd of ${FILE_MIB} MiB of random data from tmpfs with fsync; read: dd ` +
      `of that file; stat: ls -lR over ${FILES} small files. The guest drops its page cache before each operation, the ` +
      'host uses O_DIRECT for its own dd (its page cache is not dropped, so virtiofsd and 9p may read from it); ' +
      'guest times come from /proc/uptime (10 ms). The ratio is dlite/host: of times for stat (above 1 is slower), of ' +
      'throughput for write and read (below 1 is slower).',
    rows,
    samples,
  }
}
