// Types of os/contract.js, the contract as the image builder turns it into contract.sh.
export declare const CONTRACT: Record<string, unknown> & {contract: number}
export declare const SHELL_NAMES: Record<string, string>
export declare function contractShell(contract?: Record<string, unknown>): string
