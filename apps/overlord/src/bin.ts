#!/usr/bin/env bun
import { main } from "./cli.ts"

await main(process.argv)
