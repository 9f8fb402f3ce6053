// IPv4 subnet arithmetic for the VM network: the bridge takes .1, the VM .2.
export interface Subnet {
  network: string
  prefix: number
  cidr: string
  hostIp: string
  vmIp: string
  netmask: string
}

export function ipToInt(ip: string): number {
  const parts = ip.split('.').map(Number)
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`not an IPv4 address: ${ip}`)
  }
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3]
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join('.')
}

export function parseSubnet(cidr: string): Subnet {
  const match = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr.trim())
  if (!match) throw new Error(`not an IPv4 CIDR: ${cidr}`)
  const prefix = Number(match[2])
  if (prefix < 0 || prefix > 32) throw new Error(`bad prefix length in ${cidr}`)
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
  const network = (ipToInt(match[1]) & mask) >>> 0
  return {
    network: intToIp(network),
    prefix,
    cidr: `${intToIp(network)}/${prefix}`,
    hostIp: intToIp(network + 1),
    vmIp: intToIp(network + 2),
    netmask: intToIp(mask),
  }
}
