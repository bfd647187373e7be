export * as Api from "./api.ts"
export * as Commands from "./commands.ts"
export * as Live from "./live.ts"
export * as Sync from "./sync.ts"
