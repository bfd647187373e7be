/** `@overlord/store/mysql`: the MySQL, MariaDB and PlanetScale engine. */
import { layer } from "../store.ts"
import { connectMysql } from "./client.ts"
import { MysqlEngine } from "./engine.ts"

export {
  connectMysql,
  connectMysql2,
  connectPlanetscale,
  type Mysql2Options,
  type MysqlClient,
  type MysqlQueryable,
  type QueryResult,
  type SqlValue,
} from "./client.ts"
export { MysqlEngine, type MysqlEngineOptions } from "./engine.ts"
export { classifyDriverError, DatabaseAccessError, storeErrorOf } from "./errors.ts"
export { CODEC_RAW, CODEC_ZSTD, UnknownChunkCodec } from "./line-chunks.ts"
export { MYSQL_MIGRATIONS, migrateMysql } from "./schema.ts"

/** The store on a MySQL-compatible database: `mysql://…` (mysql2) or `https://…` / `planetscale://…` (HTTP). */
export const mysqlLayer = (url: string) => layer(() => MysqlEngine.open(connectMysql(url)))
