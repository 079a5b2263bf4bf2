// The example project's test: run by `npm test` inside the sandbox.
const ms = require("ms");
if (ms("2 days") !== 172800000) throw new Error("ms is broken");
console.log("ok - ms parses durations");
