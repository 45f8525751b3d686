// The one bigint-aware JSON writer lives in core (capabilities store JSON documents too).
export { toJson } from '../core/json.js'
