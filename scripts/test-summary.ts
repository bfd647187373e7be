/**
 * Prints one closing line, `N passed, N failed, N skipped`, over vitest JSON reports, so any CI can
 * read the outcome. Fails when a report is missing or when no test ran at all.
 */
import { existsSync, readFileSync } from "node:fs"

interface Report {
  numPassedTests: number
  numFailedTests: number
  numPendingTests: number
  numTodoTests: number
}

let passed = 0
let failed = 0
let skipped = 0
for (const file of process.argv.slice(2)) {
  if (!existsSync(file)) {
    console.error(`test-summary: ${file} is missing (the runner crashed before reporting)`)
    failed += 1
    continue
  }
  const r = JSON.parse(readFileSync(file, "utf8")) as Report
  passed += r.numPassedTests
  failed += r.numFailedTests
  skipped += r.numPendingTests + r.numTodoTests
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`)
if (failed > 0 || passed === 0) process.exit(1)
