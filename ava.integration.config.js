import all from './ava.config.js'
import { INTEGRATION } from './test/tiers.js'

// `npm run test:integration`: daemons, peers, browsers and the network (test/tiers.js)
export default { ...all, files: INTEGRATION }
