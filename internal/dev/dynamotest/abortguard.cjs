// Preloaded into dynalite (node --require): dynalite's request handler
// rethrows a request stream's error (index.js: req.on('error', function
// (err) { throw err })), so a client that closes its connection while
// sending a body - a cancelled context, a timed-out test - kills the
// emulator and every test or local stack on it. Such an abort concerns
// that one request only: note it and go on. Any other uncaught error still
// ends the process, as it would without this guard.
'use strict'
process.on('uncaughtException', function (err) {
  if (err && err.code === 'ECONNRESET' && err.message === 'aborted') {
    process.stderr.write('dynalite: a client aborted its request; continuing\n')
    return
  }
  process.stderr.write((err && err.stack ? err.stack : String(err)) + '\n')
  process.exit(1)
})
