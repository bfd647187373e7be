import { defineConfig } from "vitest/config"

// The compatibility suite: real Claude Code session files read from ../shared/fixtures at test time.
export default defineConfig({
  test: {
    pool: "threads",
    globalSetup: ["scripts/vitest-global-setup.ts"],
    include: ["**/test/**/*.compat.test.ts"],
    exclude: ["**/node_modules/**"],
    testTimeout: 120_000,
  },
})
