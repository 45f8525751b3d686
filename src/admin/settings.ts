/** Store-wide settings (key → value) that other capabilities read and write. */
export {
  findSettingKeyByValue,
  getSetting,
  putSetting,
  putSettingIfAbsent,
} from './settings-store.js'
