export { type AppOptions, LOGIN_LINK_TTL_MS, makeApp } from "./app.ts"
export { accessPolicy, PublicUrlError, parsePublicUrl, SESSION_COOKIE } from "./auth.ts"
export { HttpServer, layer as httpServerLayer, PortInUseError, type ServerConfig } from "./http-server.ts"
export { appendFrameReader, MAX_FRAME_BYTES, SERVER_VERSION } from "./sync-socket.ts"
