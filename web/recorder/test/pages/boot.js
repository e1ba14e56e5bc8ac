// Test pages start the recorder from the query string: ?api=<receiver url>&opts=<json>
(function () {
  var q = new URLSearchParams(location.search);
  var opts = Object.assign({ apiHost: q.get('api'), token: 'test-token', flushIntervalMs: 500, retryBaseMs: 200, retryMaxMs: 1000 }, JSON.parse(q.get('opts') || '{}'));
  if (q.get('api')) reel.init(opts);
})();
