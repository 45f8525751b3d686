/** Store-wide settings (key → value) that other capabilities read and write. */
export {
  getSetting,
  putSetting,
  putSettingIfAbsent,
  settingsWithPrefix,
} from './settings-store.js'
