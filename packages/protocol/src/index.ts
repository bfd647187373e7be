export * as Sync from "./sync.ts"
export * as Api from "./api.ts"
