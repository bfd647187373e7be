/** The dashboard's pure modules, for tests and for other packages that render transcripts. */
export * from "./ansi.ts"
export * from "./diff.ts"
export * from "./live.ts"
export * from "./markdown.ts"
export * from "./pairing.ts"
export * from "./records.ts"
export * from "./router.ts"
export * from "./transcript-window.ts"
