import { defineConfig } from "vitest/config"

// End-to-end tests in real Chromium (playwright-core driving Debian's chromium).
export default defineConfig({
  test: {
    pool: "threads",
    globalSetup: ["scripts/vitest-global-setup.ts"],
    include: ["**/test/**/*.browser.test.ts"],
    exclude: ["**/node_modules/**"],
    testTimeout: 180_000,
    hookTimeout: 300_000,
    fileParallelism: false,
  },
})
