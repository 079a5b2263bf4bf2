// SPDX-License-Identifier: Apache-2.0
//
// An independent Connect client for `cleanroom serve`: code generated from
// proto/ by protoc-gen-es (`npx buf generate` writes gen/), transport from
// @connectrpc/connect-node over HTTP/1.1 on the server's unix socket, JSON
// codec (or the binary one). tests/integration/test_ts_client.py runs it and
// checks what it prints; this script only reports, it asserts nothing itself.
//
//   node client.mjs SOCKET SCENARIO [ARGS_JSON]
//
// ARGS_JSON: {"codec": "json"|"binary"} plus the scenario's own arguments.
//
// Prints one JSON document on stdout. A ConnectError is reported as
// {"error": {...}} (see errorReport); any other exception exits non-zero.

import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { compressionGzip, createConnectTransport } from "@connectrpc/connect-node";
import { toJson } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  AdminService,
  ErrorInfoSchema,
  GetCapabilitiesResponseSchema,
  GetServerStatusResponseSchema,
} from "./gen/cleanroom/v1/admin_pb.js";
import { SandboxService, SandboxStatus } from "./gen/cleanroom/v1/sandbox_pb.js";
import { ExecutionService, ExecutionStatus } from "./gen/cleanroom/v1/execution_pb.js";

const [socketPath, scenario, argsJson] = process.argv.slice(2);
if (!socketPath || !scenario) {
  console.error("usage: node client.mjs SOCKET SCENARIO [ARGS_JSON]");
  process.exit(2);
}
const args = argsJson ? JSON.parse(argsJson) : {};
// Streams give up after this long, so that a stream the server never ends is
// reported with what arrived before (as a ConnectError), not as a killed client.
const STREAM_TIMEOUT_MS = 30000;

const transportOptions = {
  baseUrl: "http://localhost",
  httpVersion: "1.1",
  // JSON codec (application/json, application/connect+json) unless
  // {"codec": "binary"} asks for application/proto, application/connect+proto
  useBinaryFormat: args.codec === "binary",
  nodeOptions: { socketPath },
};
const transport = createConnectTransport(transportOptions);
const admin = createClient(AdminService, transport);
const sandboxes = createClient(SandboxService, transport);
const executions = createClient(ExecutionService, transport);

// A ConnectError as data: the code by connect-es name, the raw message, and
// every cleanroom.v1.ErrorInfo detail decoded with the generated schema.
function errorReport(err) {
  return {
    code: Code[err.code],
    message: err.rawMessage,
    detailCount: err.details.length,
    errorInfo: err.findDetails(ErrorInfoSchema).map((d) => ({ reasonCode: d.reasonCode, message: d.message })),
  };
}

async function settle(call) {
  try {
    return { ok: await call() };
  } catch (err) {
    if (err instanceof ConnectError) return { error: errorReport(err) };
    throw err;
  }
}

const scenarios = {
  // AdminService unary calls, answers in the proto3 JSON form.
  async admin() {
    const status = await admin.getServerStatus({});
    const caps = await admin.getCapabilities({});
    return {
      serverStatus: toJson(GetServerStatusResponseSchema, status),
      capabilities: toJson(GetCapabilitiesResponseSchema, caps),
    };
  },

  // Errors a client must be able to tell apart.
  async errors() {
    const unknown = await settle(() => sandboxes.getSandbox({ sandboxId: args.sandboxId ?? "sb-does-not-exist" }));
    const badPolicy = await settle(() => sandboxes.createSandbox({ compiledPolicyJson: '{"not":"a compiled policy"}' }));
    return { getUnknownSandbox: unknown, createWithInvalidPolicy: badPolicy };
  },

  // A stream request the server cannot accept (gzip-compressed; the server
  // takes identity only): how the refusal reaches a client.
  async gzipStream() {
    const gzip = createConnectTransport({ ...transportOptions, sendCompression: compressionGzip, compressMinBytes: 0 });
    const events = [];
    for await (const ev of createClient(SandboxService, gzip).streamSandboxEvents(
      { sandboxId: "sb-does-not-exist" },
      { signal: AbortSignal.timeout(STREAM_TIMEOUT_MS) },
    ))
      events.push(ev.status);
    return { events };
  },

  // CreateSandbox, CreateExecution, StreamExecution (server streaming),
  // StreamSandboxEvents, TerminateSandbox. args: {policy, command}.
  async exec() {
    const created = await sandboxes.createSandbox({ compiledPolicyJson: args.policy, runId: "run-ts-client" });
    const sandboxId = created.sandbox.sandboxId;
    const report = { sandboxId, sandboxStatus: SandboxStatus[created.sandbox.status] };
    try {
      const ex = await executions.createExecution({ sandboxId, command: args.command });
      const executionId = ex.execution.executionId;
      report.executionId = executionId;
      report.executionStatus = ExecutionStatus[ex.execution.status];
      report.stream = await streamExecution(sandboxId, executionId);
      report.events = await sandboxEvents(sandboxId);
    } finally {
      const t = await settle(() => sandboxes.terminateSandbox({ sandboxId }));
      report.terminated = t.ok ? t.ok.terminated : t;
    }
    return report;
  },
};

async function streamExecution(sandboxId, executionId) {
  const out = { payloads: [], stdout: [], stderr: [], exits: [], ended: false };
  try {
    for await (const ev of executions.streamExecution(
      { sandboxId, executionId, follow: true },
      { signal: AbortSignal.timeout(STREAM_TIMEOUT_MS) },
    )) {
      const p = ev.payload;
      out.payloads.push(p.case ?? "none");
      if (p.case === "stdout") out.stdout.push(Buffer.from(p.value).toString("base64"));
      else if (p.case === "stderr") out.stderr.push(Buffer.from(p.value).toString("base64"));
      else if (p.case === "exit")
        out.exits.push({
          exitCode: p.value.exitCode,
          status: ExecutionStatus[p.value.status],
          reason: p.value.reason,
          message: p.value.message,
        });
    }
    out.ended = true; // the iterator finished: end-of-stream {} without an error
  } catch (err) {
    if (!(err instanceof ConnectError)) throw err;
    out.error = errorReport(err);
  }
  return out;
}

async function sandboxEvents(sandboxId) {
  const events = [];
  try {
    for await (const ev of sandboxes.streamSandboxEvents(
      { sandboxId, follow: false },
      { signal: AbortSignal.timeout(STREAM_TIMEOUT_MS) },
    )) {
      events.push({
        sandboxId: ev.sandboxId,
        status: SandboxStatus[ev.status],
        message: ev.message,
        reason: ev.reason,
        occurredAt: ev.occurredAt ? timestampDate(ev.occurredAt).toISOString() : null,
      });
    }
    return { events, ended: true };
  } catch (err) {
    if (!(err instanceof ConnectError)) throw err;
    return { events, ended: false, error: errorReport(err) };
  }
}

const run = scenarios[scenario];
if (!run) {
  console.error(`unknown scenario '${scenario}' (known: ${Object.keys(scenarios).join(", ")})`);
  process.exit(2);
}
const result = await settle(run);
process.stdout.write(JSON.stringify(result) + "\n");
