export { makeApp, type AppOptions } from "./app.ts"
export { accessPolicy, SESSION_COOKIE } from "./auth.ts"
export { HttpServer, layer as httpServerLayer, type ServerConfig } from "./http-server.ts"
export { readAppendFrame, MAX_FRAME_BYTES, SERVER_VERSION } from "./sync-socket.ts"
