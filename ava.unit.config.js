import all from './ava.config.js'
import { UNIT } from './test/tiers.js'

// `npm run test:unit`: the fast tier (test/tiers.js)
export default { ...all, files: UNIT }
