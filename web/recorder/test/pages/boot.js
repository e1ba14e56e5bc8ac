// Test pages start the recorder from the query string: ?api=<receiver url>&opts=<json>
// (node --test also loads every .js under test/; this file is a no-op outside a browser.)
(function () {
  if (typeof window === 'undefined' || !window.reel) return;
  var q = new URLSearchParams(location.search);
  var opts = Object.assign({ apiHost: q.get('api'), token: 'test-token', flushIntervalMs: 500, retryBaseMs: 200, retryMaxMs: 1000 }, JSON.parse(q.get('opts') || '{}'));
  if (q.get('api') || q.has('local')) reel.init(opts); // ?local: record without a server (export on demand)
})();
