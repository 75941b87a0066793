#!/usr/bin/env node
// Installed entry: runs the TypeScript CLI through tsx on the project's own Node (>= 22).
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../node/cli.ts')
await main()
