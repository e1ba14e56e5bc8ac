// ES module entry: loads the classic script (the single source of truth) for its side effect
// and re-exports window.reel. `import reel, { init, event } from '.../reel.mjs'`.
import './reel.js';

const reel = globalThis.reel;
// A module has no document.currentScript: tell reel.js where reel-export.js lives (next to this file).
if (!reel._base) reel._base = import.meta.url;
export default reel;
export const init = (options) => reel.init(options);
export const event = (tag, payload) => reel.event(tag, payload);
export const identify = (distinctId) => reel.identify(distinctId);
export const stop = () => reel.stop();
export const flush = () => reel.flush();
export const snapshot = () => reel.snapshot();
export const stats = () => reel.stats();
/** The current session id (reel.sessionId is a getter; a module binding cannot be live, so this is a function). */
export const getSessionId = () => reel.sessionId;
/** A .reel.zip of the current session (Promise<Blob>); see README "Export". */
export const exportPackage = (options) => reel.exportPackage(options);
export const downloadPackage = (filename, options) => reel.downloadPackage(filename, options);
export const getReplayUrl = (options) => reel.getReplayUrl(options);
