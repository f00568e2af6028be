// Eligo for JavaScript and TypeScript: the typed face of eligo_bg.wasm.
//
// The wasm-bindgen glue (eligo.js) moves JSON text; this module turns it into
// typed values (index.d.ts) and error answers into EligoError. Numbers that
// are not safe integers (money, rates) become Decimal, never a binary
// float: JSON.parse would turn 1800.00 into 1800 and 0.1 + 0.2 into trouble.

import initGlue, {
  initSync as initGlueSync,
  Engine as RawEngine,
  check as rawCheck,
  engineVersion as rawEngineVersion,
  diff as rawDiff,
  RawImpact,
} from './eligo.js';

const DECIMAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** An exact decimal number, kept as the text the engine wrote. */
export class Decimal {
  constructor(text) {
    if (typeof text !== 'string' || !DECIMAL.test(text)) {
      throw new TypeError(`not a decimal number: ${JSON.stringify(text)}`);
    }
    this.text = text;
    Object.freeze(this);
  }
  toString() {
    return this.text;
  }
  toJSON() {
    return this.text;
  }
  /** A binary float, for arithmetic where exactness does not matter. */
  toNumber() {
    return Number(this.text);
  }
}

/**
 * An error body as the CLI prints it (`ErrorBody`'s `Display` in the core):
 * the message, then a line per problem and per diagnostic. Written here
 * rather than asked of the artifact, which would otherwise carry a second
 * reading of every error type; a test compares both texts.
 */
function errorText(body) {
  let text = body.message;
  for (const p of body.problems ?? []) text += `\n  ${p.path}: ${p.message} [${p.rule}]`;
  for (const d of body.diagnostics ?? []) {
    text += `\n  ${d.file}:${d.line}:${d.column}: ${d.message} [${d.code}]`;
  }
  return text;
}

/** An error answer from the engine: same message and paths as the CLI. */
export class EligoError extends Error {
  constructor(answerText) {
    const body = parse(answerText).error;
    super(errorText(body));
    this.name = 'EligoError';
    this.answer = answerText;
    this.kind = body.kind;
    this.problems = body.problems ?? [];
    this.diagnostics = body.diagnostics ?? [];
    if (body.location) this.location = body.location;
  }
}

/**
 * JSON text → value; numbers that are not safe integers become Decimal; a key named twice in one object is a SyntaxError.
 *
 * Read a character code at a time: strings without escapes are sliced out
 * rather than handed to JSON.parse, numbers scanned without a regular
 * expression, keys set by assignment unless Object.prototype has them. A
 * 2.8 KB envelope took 47.7 µs to read with JSON.parse per string, regular
 * expressions per number and defineProperty per key, about 15 µs so (Node 20).
 */
export function parse(text) {
  const length = text.length;
  let at = 0;
  const fail = (what) => {
    throw new SyntaxError(`${what} at offset ${at} of the JSON text`);
  };
  const space = () => {
    while (at < length) {
      const c = text.charCodeAt(at);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) at++;
      else break;
    }
  };
  const expect = (code, char) => {
    space();
    if (text.charCodeAt(at) !== code) fail(`expected ${char}`);
    at++;
  };
  const string = () => {
    const start = at;
    at++;
    // Escapes and control characters (which JSON.parse refuses) go the
    // long way; anything else is the text between the quotes.
    let plain = true;
    for (;;) {
      if (at >= length) fail('unterminated string');
      const c = text.charCodeAt(at);
      if (c === 0x22) break;
      if (c === 0x5c) {
        plain = false;
        at += 2;
      } else {
        if (c < 0x20) plain = false;
        at++;
      }
    }
    at++;
    return plain ? text.slice(start + 1, at - 1) : JSON.parse(text.slice(start, at));
  };
  const word = (w, v) => {
    if (text.startsWith(w, at)) {
      at += w.length;
      return v;
    }
    return fail('unexpected token');
  };
  const isDigit = (c) => c >= 0x30 && c <= 0x39;
  const digits = () => {
    while (isDigit(text.charCodeAt(at))) at++;
  };
  // -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?, the longest match at `at`.
  const number = () => {
    const start = at;
    if (text.charCodeAt(at) === 0x2d) at++;
    const first = text.charCodeAt(at);
    if (first === 0x30) at++;
    else if (first >= 0x31 && first <= 0x39) digits();
    else {
      at = start;
      fail('unexpected token');
    }
    let integer = true;
    if (text.charCodeAt(at) === 0x2e && isDigit(text.charCodeAt(at + 1))) {
      at += 1;
      digits();
      integer = false;
    }
    const e = text.charCodeAt(at);
    if (e === 0x65 || e === 0x45) {
      const sign = text.charCodeAt(at + 1);
      const exponent = sign === 0x2b || sign === 0x2d ? at + 2 : at + 1;
      if (isDigit(text.charCodeAt(exponent))) {
        at = exponent;
        digits();
        integer = false;
      }
    }
    const literal = text.slice(start, at);
    if (integer) {
      const n = Number(literal);
      if (Number.isSafeInteger(n)) return n;
    }
    return new Decimal(literal);
  };
  const value = () => {
    space();
    switch (text.charCodeAt(at)) {
      case 0x7b: {
        at++;
        const object = {};
        space();
        if (text.charCodeAt(at) === 0x7d) {
          at++;
          return object;
        }
        for (;;) {
          space();
          if (text.charCodeAt(at) !== 0x22) fail('expected a key');
          const key = string();
          // A key named twice is refused, as the engine refuses it in an
          // input: one text, one reading.
          if (Object.prototype.hasOwnProperty.call(object, key)) fail(`the key ${JSON.stringify(key)} appears twice`);
          expect(0x3a, ':');
          const item = value();
          if (key in object) {
            // A name Object.prototype has (`__proto__`, `toString`, or a
            // setter someone added, on a prototype perhaps frozen): an own
            // property all the same, as JSON.parse makes it.
            Object.defineProperty(object, key, { value: item, enumerable: true, writable: true, configurable: true });
          } else {
            object[key] = item;
          }
          space();
          if (text.charCodeAt(at) === 0x2c) {
            at++;
            continue;
          }
          expect(0x7d, '}');
          return object;
        }
      }
      case 0x5b: {
        at++;
        const array = [];
        space();
        if (text.charCodeAt(at) === 0x5d) {
          at++;
          return array;
        }
        for (;;) {
          array.push(value());
          space();
          if (text.charCodeAt(at) === 0x2c) {
            at++;
            continue;
          }
          expect(0x5d, ']');
          return array;
        }
      }
      case 0x22:
        return string();
      case 0x74:
        return word('true', true);
      case 0x66:
        return word('false', false);
      case 0x6e:
        return word('null', null);
      default:
        return number();
    }
  };
  const result = value();
  space();
  if (at !== length) fail('trailing text');
  return result;
}

/**
 * Value → JSON text; a Decimal is written as its exact number.
 *
 * The path of a value that cannot be sent is put together only for its
 * error: built for every field, it was most of the 5.9 µs a household
 * request took to write (Node 20).
 */
export function stringify(value) {
  const trail = [];
  const where = () => {
    let path = '';
    for (const step of trail) path = typeof step === 'number' ? `${path}[${step}]` : path ? `${path}.${step}` : step;
    return path || '$';
  };
  const write = (value) => {
    if (value instanceof Decimal) return value.text;
    if (value === null) return 'null';
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return JSON.stringify(value);
      case 'number':
        if (!Number.isFinite(value)) throw new TypeError(`${where()}: ${value} is not a JSON number`);
        return JSON.stringify(value);
      case 'bigint':
        return value.toString();
      case 'object': {
        if (Array.isArray(value)) {
          let text = '[';
          for (let i = 0; i < value.length; i++) {
            const item = value[i];
            trail.push(i);
            text += (i ? ',' : '') + (item === undefined ? 'null' : write(item));
            trail.pop();
          }
          return text + ']';
        }
        if (typeof value.toJSON === 'function') return write(value.toJSON());
        let text = '{';
        for (const key of Object.keys(value)) {
          const field = value[key];
          if (field === undefined || typeof field === 'function') continue;
          trail.push(key);
          text += (text.length > 1 ? ',' : '') + JSON.stringify(key) + ':' + write(field);
          trail.pop();
        }
        return text + '}';
      }
      default:
        throw new TypeError(`${where()}: a ${typeof value} cannot be sent to the engine`);
    }
  };
  return write(value);
}

/**
 * Calls the glue. It throws an error answer as a plain Error whose message
 * is the answer's JSON text; a trap or a bug inside the engine throws
 * something else (WebAssembly.RuntimeError, …), which passes through.
 */
function engineCall(call) {
  try {
    return call();
  } catch (error) {
    if (error instanceof Error && Object.getPrototypeOf(error) === Error.prototype) {
      throw new EligoError(error.message);
    }
    throw error;
  }
}

function loadRequest(bundle, options = {}) {
  const extra = {};
  if (options.artifact !== undefined) extra.artifact = options.artifact;
  if (options.tests === false) extra.tests = false;
  if (typeof bundle === 'string') {
    if (Object.keys(extra).length === 0) return bundle;
    return stringify({ ...parse(bundle), ...extra });
  }
  if (bundle === null || typeof bundle !== 'object' || typeof bundle.files !== 'object') {
    throw new TypeError('a bundle is { files: { path: text } }, a packed bundle, or its JSON text');
  }
  return stringify({ ...bundle, ...extra });
}

// The instance's memory, where `decideUtf8Kept` leaves its answer.
let memory;
// Added to the kept answer's length for an error answer (`ANSWER_IS_ERROR`
// in wasm/src/js.rs).
const ANSWER_IS_ERROR = 0x80000000;
const utf8Decoder = new TextDecoder();

/**
 * Loads the engine. Without an argument the artifact next to this module is
 * used (fetched in a browser, read from disk in Node).
 */
export async function init(source) {
  if (source === undefined) {
    const url = new URL('./eligo_bg.wasm', import.meta.url);
    if (url.protocol === 'file:') {
      // Node only; hidden from bundlers, which would try to resolve it.
      const fsModule = 'node:fs/promises';
      const { readFile } = await import(/* webpackIgnore: true */ /* @vite-ignore */ fsModule);
      source = await readFile(url);
    } else {
      source = url;
    }
  }
  memory = (await initGlue({ module_or_path: source })).memory;
}

/** Loads the engine from bytes or a compiled module, synchronously. */
export function initSync(module) {
  memory = initGlueSync({ module }).memory;
}


/** The engine's version. */
export function engineVersion() {
  return rawEngineVersion();
}

/** Checks a bundle without loading it: every diagnostic, with line and column. */
export function check(bundle) {
  return parse(engineCall(() => rawCheck(loadRequest(bundle))));
}

/** A loaded, compiled policy bundle. */
export class Engine {
  #raw;
  #info;

  constructor(raw, info) {
    if (!(raw instanceof RawEngine)) throw new TypeError('use Engine.load(bundle)');
    this.#raw = raw;
    this.#info = info;
  }

  /** Loads a bundle; throws an EligoError listing every diagnostic. */
  static load(bundle, options = {}) {
    const request = loadRequest(bundle, options);
    const raw = engineCall(() => new RawEngine(request));
    return new Engine(raw, parse(raw.describe()));
  }

  /** Name, version, hash, languages and each entry with its input schema. */
  get info() {
    return this.#info;
  }

  /** The entry points, each with its input schema. */
  entries() {
    return this.#info.entries;
  }

  /** One decision; throws an EligoError for bad input or a failing rule. */
  decide(request) {
    const text = stringify(request);
    return parse(engineCall(() => this.#raw.decide(text)));
  }

  /**
   * One decision from a decide request's JSON as UTF-8 bytes: the envelope's
   * JSON as UTF-8 bytes, the very bytes `decide` reads (for a host that
   * stores, hashes or forwards them). Throws an EligoError as `decide` does.
   */
  decideUtf8(requestBytes) {
    return this.#keptAnswer(requestBytes, 'decideUtf8').slice();
  }

  /**
   * `decideUtf8` into the caller's buffer, as `TextEncoder.encodeInto`
   * does: returns how many bytes of `out` the envelope took. A buffer too
   * small for it is a RangeError whose `needed` is the length it takes.
   * Nothing is allocated: a fresh 2.8 KB Uint8Array costs Node 0.8 µs.
   */
  decideUtf8Into(requestBytes, out) {
    if (!(out instanceof Uint8Array)) throw new TypeError('decideUtf8Into writes into a Uint8Array');
    const answer = this.#keptAnswer(requestBytes, 'decideUtf8Into');
    if (answer.length > out.length) {
      const error = new RangeError(`the envelope takes ${answer.length} bytes; the buffer holds ${out.length}`);
      error.needed = answer.length;
      throw error;
    }
    out.set(answer);
    return answer.length;
  }

  /** The answer to UTF-8 request bytes, as a view of the instance's memory until the next call. */
  #keptAnswer(requestBytes, method) {
    if (!(requestBytes instanceof Uint8Array)) throw new TypeError(`${method} takes a Uint8Array`);
    const flagged = this.#raw.decideUtf8Kept(requestBytes);
    const length = flagged >= ANSWER_IS_ERROR ? flagged - ANSWER_IS_ERROR : flagged;
    // Set by init/initSync; the glue may have been started directly.
    memory ??= initGlueSync().memory;
    const answer = new Uint8Array(memory.buffer, this.#raw.keptAnswerPtr(), length);
    if (flagged >= ANSWER_IS_ERROR) throw new EligoError(utf8Decoder.decode(answer));
    return answer;
  }

  /** Runs the bundle's own test cases; throws an EligoError if it was loaded with `tests: false`. */
  test() {
    return parse(engineCall(() => this.#raw.test()));
  }

  /** The bundle as one packed JSON text, as `eligo pack` writes it. */
  pack() {
    return this.#raw.pack();
  }

  /** Frees the engine's memory in the wasm instance. */
  free() {
    this.#raw.free();
  }

  [Symbol.dispose]() {
    this.free();
  }
}

/** The text of a decision for the impact and diff functions: an envelope, or an EligoError's answer. */
function decisionText(decision) {
  return decision instanceof EligoError ? decision.answer : stringify(decision);
}

/** The JSON paths where two decisions differ: `[{ path, before, after }]`. */
export function diff(before, after) {
  return parse(engineCall(() => rawDiff(decisionText(before), decisionText(after))));
}

/**
 * What a policy change does to many households, accumulated in the engine
 * exactly as `eligo impact` does: add each household's two decisions (an
 * envelope or the EligoError it threw), merge accumulators in order, read
 * the report.
 */
export class Impact {
  #raw = new RawImpact();

  /** Adds one household; `groups` maps a grouping name to its value. */
  add(id, before, after, groups = {}) {
    const raw = this.#raw;
    engineCall(() => raw.add(String(id), stringify(groups), decisionText(before), decisionText(after)));
  }

  /** Adds everything `other` counted (its households after these); `other` is used up. */
  merge(other) {
    this.#raw.merge(other.#raw);
    other.#raw = new RawImpact();
  }

  /** The report: households, changed, transitions, totals, rules, errors, groups. */
  report() {
    return parse(this.#raw.report());
  }

  /** Frees the accumulator's memory in the wasm instance. */
  free() {
    this.#raw.free();
  }
}
