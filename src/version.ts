/** dsh's own version (package.json's), recorded in backup manifests and printed by `dsh version`. */
export const VERSION = '0.1.0'
