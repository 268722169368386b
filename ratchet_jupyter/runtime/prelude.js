// The environment a Ratchet task sees, installed once in every V8 context.
//
// Python drives this file through one frozen global, __ratchet__, with
// compile(), run() and map(). Everything else a task sees (fetch, the typed
// errors, console, reportProgress) is defined here. There is no filesystem,
// no process, no module loader and no way back into Python: a task talks to
// the outside only through fetch, which Python performs between passes (see
// "replay" below).
(function (global) {
  "use strict";

  const stringify = JSON.stringify;
  const parseJSON = JSON.parse;
  const OriginalDate = Date;
  const originalNow = Date.now;
  const originalRandom = Math.random;
  const hasOwn = Object.prototype.hasOwnProperty;

  // ---- typed errors -----------------------------------------------------------------
  function defineError(name, init) {
    const cls = class extends Error {
      constructor(...args) {
        super(init ? init.message(args) : args[0]);
        if (init) init.assign(this, args);
      }
      get name() { return name; }
    };
    Object.defineProperty(cls, "name", { value: name });
    return cls;
  }
  const errors = {
    AuthenticationError: defineError("AuthenticationError"),
    AuthorizationError: defineError("AuthorizationError"),
    NetworkError: defineError("NetworkError"),
    HttpError: defineError("HttpError", {
      message: (a) => (typeof a[0] === "number" ? (a[1] !== undefined ? a[1] : "HTTP " + a[0]) : a[0]),
      assign: (self, a) => {
        self.status = typeof a[0] === "number" ? a[0] : a[1];
      },
    }),
    ValidationError: defineError("ValidationError"),
    ConfigurationError: defineError("ConfigurationError"),
    RateLimitError: defineError("RateLimitError"),
    ServiceUnavailableError: defineError("ServiceUnavailableError"),
    TimeoutError: defineError("TimeoutError"),
    DataError: defineError("DataError"),
  };
  for (const key of Object.keys(errors)) global[key] = errors[key];

  // ---- per-execution state ----------------------------------------------------------
  // Replay: a task sees a synchronous fetch, but V8 cannot block on Python. When a
  // task asks for a URL whose response is not known yet, the pass is abandoned,
  // Python performs the request, and the task runs again from the start with the
  // responses so far. Clock and random values of earlier passes are replayed from a
  // tape, so the task takes the same path up to the new request.
  let cur = null;
  const PENDING = { pending: true };

  function freshState(opts) {
    return {
      logs: [],
      progress: [],
      requests: [],
      fetched: opts.fetched || [],
      fetchIndex: 0,
      mocks: opts.mocks || null,
      need: null,
      unmatched: null,
      diverged: null,
      tape: opts.tape || { clock: [], random: [] },
      clockRun: 0,
      clockPos: 0,
      randomPos: 0,
      det: opts.det || null,
      rng: opts.det ? (opts.det.seed >>> 0) || 1 : 0,
      start: originalNow(),
      maxRequests: opts.maxRequests || 100,
      requestCount: 0,
    };
  }

  // Random values are taped one by one, up to a bound (a task drawing more than that
  // before a fetch may diverge on replay, which is then reported, not hidden).
  const MAX_TAPED_RANDOM = 100000;
  function fromTape(list, posKey, live) {
    if (cur === null) return live();
    const pos = cur[posKey]++;
    if (pos < list.length) return list[pos];
    const value = live();
    if (list.length < MAX_TAPED_RANDOM) list.push(value);
    return value;
  }

  // The clock is taped as runs of [value, count]: a loop reading Date.now() millions of
  // times sees a few thousand distinct milliseconds, not millions of values.
  function clockFromTape() {
    const runs = cur.tape.clock;
    while (cur.clockRun < runs.length) {
      const run = runs[cur.clockRun];
      if (cur.clockPos < run[1]) {
        cur.clockPos++;
        return run[0];
      }
      cur.clockRun++;
      cur.clockPos = 0;
    }
    const value = originalNow();
    const last = runs.length ? runs[runs.length - 1] : null;
    if (last !== null && last[0] === value) {
      last[1]++;
    } else {
      runs.push([value, 1]);
      cur.clockRun = runs.length - 1;
    }
    cur.clockPos = runs[runs.length - 1][1];
    cur.clockRun = runs.length - 1;
    return value;
  }

  function now() {
    if (cur !== null && cur.det) return cur.det.now;
    return cur === null ? originalNow() : clockFromTape();
  }

  function seededRandom() {
    // mulberry32: small, fast, good enough for reproducible test data
    let t = (cur.rng = (cur.rng + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  Math.random = function random() {
    if (cur !== null && cur.det) return seededRandom();
    return cur === null ? originalRandom() : fromTape(cur.tape.random, "randomPos", originalRandom);
  };

  function RatchetDate(...args) {
    if (!new.target) return new OriginalDate(now()).toString();
    return args.length === 0 ? new OriginalDate(now()) : new OriginalDate(...args);
  }
  RatchetDate.prototype = OriginalDate.prototype;
  RatchetDate.now = now;
  RatchetDate.parse = OriginalDate.parse;
  RatchetDate.UTC = OriginalDate.UTC;
  Object.defineProperty(OriginalDate.prototype, "constructor", { value: RatchetDate });
  global.Date = RatchetDate;

  // ---- console and progress -----------------------------------------------------------
  function show(value) {
    if (typeof value === "string") return value;
    if (value instanceof Error) return value.name + ": " + value.message;
    try {
      const text = stringify(value);
      return text === undefined ? String(value) : text;
    } catch (e) {
      return String(value);
    }
  }
  function logger(level) {
    return function (...args) {
      if (cur === null) return;
      cur.logs.push({ level: level, message: args.map(show).join(" "), time_ms: originalNow() - cur.start });
    };
  }
  global.console = {
    log: logger("info"),
    info: logger("info"),
    debug: logger("debug"),
    warn: logger("warn"),
    error: logger("error"),
  };
  // The latest progress event is also written to shared memory, which the worker
  // reads while the task is still running (V8 cannot call out to Python on its
  // own). A sequence number, odd while writing, lets the reader skip torn reads.
  const PROGRESS_BYTES = 16384;
  const progressBuffer = new SharedArrayBuffer(PROGRESS_BYTES);
  const progressHead = new Int32Array(progressBuffer, 0, 2);
  const progressText = new Uint16Array(progressBuffer, 8, (PROGRESS_BYTES - 8) / 2);

  function publishProgress(event) {
    let text = stringify(event);
    if (text.length > progressText.length) text = stringify({ progress: event.progress, step: null, message: null, index: event.index, time_ms: event.time_ms });
    Atomics.add(progressHead, 0, 1);
    for (let i = 0; i < text.length; i++) progressText[i] = text.charCodeAt(i);
    progressHead[1] = text.length;
    Atomics.add(progressHead, 0, 1);
  }

  function reportProgress(update) {
    if (cur === null) return;
    const u = typeof update === "number" ? { progress: update } : update || {};
    const event = {
      progress: typeof u.progress === "number" ? u.progress : null,
      step: u.step === undefined ? null : u.step,
      message: u.message === undefined ? null : String(u.message),
      time_ms: originalNow() - cur.start,
    };
    cur.progress.push(event);
    try {
      publishProgress(Object.assign({ index: cur.progress.length - 1 }, event));
    } catch (e) {
      /* a step that cannot be serialised still counts in the execution's list */
    }
  }
  global.reportProgress = reportProgress;
  global.global = global;

  // ---- fetch ------------------------------------------------------------------------------
  function normaliseHeaders(headers) {
    const out = {};
    if (headers && typeof headers === "object") {
      for (const key of Object.keys(headers)) out[key] = String(headers[key]);
    }
    return out;
  }

  function makeResponse(spec) {
    const status = typeof spec.status === "number" ? spec.status : 200;
    let body = spec.body === undefined ? null : spec.body;
    if (typeof body === "string" && spec.parseBody) {
      try { body = parseJSON(body); } catch (e) { /* not JSON: keep the text */ }
    }
    const response = {
      ok: typeof spec.ok === "boolean" ? spec.ok : status >= 200 && status < 300,
      status: status,
      statusText: spec.statusText === undefined ? (status < 400 ? "OK" : "") : spec.statusText,
      headers: spec.headers || {},
      body: body,
    };
    // Convenience for code written against WHATWG fetch; not enumerable, so the
    // response still serialises as Ratchet's shape.
    Object.defineProperty(response, "json", {
      value: () => (typeof response.body === "string" ? parseJSON(response.body) : response.body),
    });
    Object.defineProperty(response, "text", {
      value: () => (typeof response.body === "string" ? response.body : stringify(response.body)),
    });
    return response;
  }

  function fetch(url, options) {
    if (cur === null) throw new errors.NetworkError("fetch is only available while a task runs");
    const o = options || {};
    let body = o.body === undefined || o.body === null ? null : o.body;
    if (body !== null && typeof body !== "string") body = stringify(body);
    const request = {
      url: String(url),
      method: String(o.method || "GET").toUpperCase(),
      headers: normaliseHeaders(o.headers),
      body: body,
    };
    if (++cur.requestCount > cur.maxRequests) {
      throw new errors.NetworkError("too many requests: a task may make at most " + cur.maxRequests);
    }
    if (cur.mocks !== null) {
      for (const m of cur.mocks) {
        if (request.url.indexOf(m.url) !== -1 && (!m.method || m.method === request.method)) {
          cur.requests.push({ method: request.method, url: request.url, status: m.response.status || 200, duration_ms: 0, mocked: true });
          return makeResponse(m.response);
        }
      }
      if (cur.unmatched === null) cur.unmatched = request.method + " " + request.url;
      throw new errors.NetworkError("no mock matches " + request.method + " " + request.url);
    }
    const index = cur.fetchIndex++;
    if (index < cur.fetched.length) {
      const known = cur.fetched[index];
      if (known.url !== request.url || known.method !== request.method) {
        if (cur.diverged === null) cur.diverged = request.method + " " + request.url;
        throw PENDING;
      }
      if (known.error) throw new errors[known.error.name || "NetworkError"](known.error.message);
      return makeResponse(known.response);
    }
    if (cur.need === null) cur.need = request;
    throw PENDING;
  }
  global.fetch = fetch;

  // ---- running ----------------------------------------------------------------------------
  const tasks = new Map();

  function describeError(e) {
    if (e instanceof Error || (e && typeof e === "object" && "message" in e)) {
      const out = { name: String(e.name || "Error"), message: String(e.message), stack: String(e.stack || "") };
      if (e.status !== undefined) out.status = e.status;
      if (e.details !== undefined) {
        try { out.details = parseJSON(stringify(e.details)); } catch (x) { /* not serialisable */ }
      }
      return out;
    }
    return { name: "Error", message: "a non-Error value was thrown: " + show(e), stack: "" };
  }

  function settle(state, ok, value) {
    const env = { s: 1 };
    if (state.unmatched !== null) {
      env.s = 0;
      env.e = { name: "UnmatchedRequest", message: "no mock matches " + state.unmatched, stack: "" };
    } else if (state.diverged !== null) {
      env.s = 0;
      env.e = { name: "ReplayDiverged", message: "the task asked for " + state.diverged + " where an earlier pass asked for another request; its requests must not depend on timing", stack: "" };
    } else if (state.need !== null) {
      env.s = 2;
      env.f = state.need;
      env.t = state.tape;
    } else if (ok) {
      env.o = value === undefined ? null : value;
    } else {
      env.s = 0;
      env.e = describeError(value);
    }
    if (state.logs.length) env.l = state.logs;
    if (state.progress.length) env.p = state.progress;
    if (state.requests.length) env.q = state.requests;
    return env;
  }

  function runOne(fn, input, opts, context) {
    const state = freshState(opts);
    cur = state;
    let result;
    try {
      result = fn(input, context);
    } catch (e) {
      cur = null;
      return settle(state, false, e);
    }
    if (result !== null && typeof result === "object" && typeof result.then === "function") {
      return Promise.resolve(result).then(
        (v) => { cur = null; return settle(state, true, v); },
        (e) => { cur = null; return settle(state, false, e); }
      );
    }
    cur = null;
    return settle(state, true, result);
  }

  function makeContext(opts, index) {
    // a map item's index in the whole batch, not in its chunk
    if (index !== null) index = opts.indices ? opts.indices[index] : (opts.offset || 0) + index;
    return Object.freeze({
      taskName: opts.taskName,
      taskVersion: opts.taskVersion,
      executionId: opts.executionId === undefined ? null : opts.executionId,
      itemIndex: index,
      deterministic: !!opts.det,
      reportProgress: reportProgress,
      log: logger("info"),
    });
  }

  function lookup(hash) {
    const fn = tasks.get(hash);
    if (fn === undefined) throw new Error("ratchet: unknown task " + hash);
    return fn;
  }

  // The task's code runs in a function's scope through a direct eval, so its
  // top-level declarations stay its own and its completion value is returned.
  // Built with Function so that the task's code is not forced into strict mode.
  // A file that only declares `function main` (no trailing `main;`) gets main.
  const evaluateTask = new Function(
    "__ratchet_code__",
    "var __ratchet_value__ = eval(__ratchet_code__);\n" +
      "if (__ratchet_value__ === undefined && typeof main === 'function') return main;\n" +
      "return __ratchet_value__;"
  );

  // Serialising what a task returned can fail (BigInt, cycles): that is the task's
  // error, reported as a DataError of its own execution.
  function safeStringify(env) {
    try {
      return stringify(env);
    } catch (e) {
      return stringify({
        s: 0,
        e: { name: "DataError", message: "the task's output cannot be converted to JSON: " + String(e && e.message), stack: "" },
        l: env.l,
        p: env.p,
        q: env.q,
      });
    }
  }

  // Async results are not handed to Python as promises: awaiting a promise from
  // Python makes synchronous calls into the isolate, which cannot be interrupted
  // if the task spins after an await. Instead a settled result waits here and
  // Python collects it with take() (an ordinary, interruptible evaluation).
  const PENDING_MARK = "\u0000pending";
  let settled = null;
  function deferred(promise, finish) {
    settled = null;
    promise.then(
      (v) => { settled = finish(v); },
      (e) => { settled = stringify({ s: 0, e: describeError(e) }); }
    );
    return PENDING_MARK;
  }

  const api = {
    progressBuffer: progressBuffer,
    take() {
      if (settled === null) return PENDING_MARK;
      const out = settled;
      settled = null;
      return out;
    },
    compile(hash, code, sourceName, inputCheck, outputCheck) {
      const fn = evaluateTask(code + "\n//# sourceURL=" + sourceName);
      if (typeof fn !== "function") {
        throw new TypeError(
          "main.js must evaluate to a function (e.g. '(function(input) {...})' or 'function main(input) {...}' followed by 'main;'), got " +
            (fn === null ? "null" : typeof fn)
        );
      }
      tasks.set(hash, { fn: fn, inputCheck: inputCheck || null, outputCheck: outputCheck || null });
      return true;
    },
    has(hash) {
      return tasks.has(hash);
    },
    run(hash, input, opts) {
      const env = runOne(lookup(hash).fn, input, opts, makeContext(opts, opts.offset === undefined ? null : 0));
      return env instanceof Promise ? deferred(env, safeStringify) : safeStringify(env);
    },
    // Runs a chunk in order. Returns "<flag><json>": flag "1" when some item needs a
    // real fetch, so Python can pass the common case on without parsing it.
    // With opts.checks, inputs and outputs are checked by the schema predicates:
    // an input they cannot vouch for comes back as {s: 3} (Python decides), an
    // output as an entry with v: 0 (Python validates it).
    map(hash, inputs, opts) {
      const entry = lookup(hash);
      const fn = entry.fn;
      const inputCheck = opts.checks ? entry.inputCheck : null;
      const outputCheck = opts.checks ? entry.outputCheck : null;
      const n = inputs.length;
      const outputs = new Array(n);
      const extra = {};
      let needs = false;
      let i = 0;
      const store = (index, env) => {
        if (env.s === 1 && outputCheck !== null && !outputCheck(env.o)) env.v = 0;
        if (env.s === 1 && env.l === undefined && env.p === undefined && env.q === undefined && env.v === undefined) {
          outputs[index] = env.o;
        } else {
          outputs[index] = null;
          extra[index] = env;
          if (env.s === 2) needs = true;
        }
      };
      const step = () => {
        while (i < n) {
          const index = i++;
          if (inputCheck !== null && !inputCheck(inputs[index])) {
            outputs[index] = null;
            extra[index] = { s: 3 };
            continue;
          }
          const env = runOne(fn, inputs[index], opts, makeContext(opts, index));
          if (env instanceof Promise) return env.then((e) => { store(index, e); return step(); });
          store(index, env);
        }
        return finish();
      };
      const finish = () => {
        try {
          return (needs ? "1" : "0") + stringify({ o: outputs, x: extra });
        } catch (e) {
          // find the items whose output does not serialise; they fail alone
          for (let k = 0; k < n; k++) {
            const candidate = extra[k] !== undefined ? extra[k] : { s: 1, o: outputs[k] };
            const text = safeStringify(candidate);
            if (text.indexOf('"s":0') !== -1 && candidate.s === 1) {
              outputs[k] = null;
              extra[k] = JSON.parse(text);
            }
          }
          return (needs ? "1" : "0") + stringify({ o: outputs, x: extra });
        }
      };
      const result = step();
      return result instanceof Promise ? deferred(result, (text) => text) : result;
    },
  };
  Object.defineProperty(global, "__ratchet__", { value: Object.freeze(api), writable: false, configurable: false, enumerable: false });
})(globalThis);
