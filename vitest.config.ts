import { defineConfig } from "vitest/config"

// The main suite: runs on a fresh clone, without ../shared. Run with `bun --bun vitest run`.
export default defineConfig({
  test: {
    pool: "threads",
    globalSetup: ["scripts/vitest-global-setup.ts"],
    include: ["apps/*/test/**/*.test.ts", "packages/*/test/**/*.test.ts", "scripts/test/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/*.compat.test.ts", "**/*.browser.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
})
