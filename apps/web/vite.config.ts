import react from "@vitejs/plugin-react"
import { defineConfig } from "vite"

// The server serves dist/ at `/`, so assets are addressed from the root. In dev, the API and the
// live feed are proxied to a running server (OVERLORD_URL) so cookies stay same-origin.
const target = process.env.OVERLORD_URL ?? "http://127.0.0.1:4000"

export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", sourcemap: false },
  server: { proxy: { "/api": { target, changeOrigin: false, ws: true } } },
})
