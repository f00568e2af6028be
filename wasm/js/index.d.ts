// Types of Eligo's JavaScript API (index.js). The engine answers in JSON;
// here every answer has its shape, and money is a Decimal, never a float.
// Every wire type has the name it has in Rust (core/src/wire.rs), and
// tests/tests/all/wire_types.rs checks the engine's JSON against each.

/** An exact decimal number, kept as the text the engine wrote. */
export declare class Decimal {
  constructor(text: string);
  readonly text: string;
  toString(): string;
  toJSON(): string;
  /** A binary float, for arithmetic where exactness does not matter. */
  toNumber(): number;
}

/** A JSON value as this API gives it: non-integers are Decimal. */
export type Json = null | boolean | number | Decimal | string | Json[] | { [key: string]: Json };
/** A number that may be sent: a JS number is sent as its shortest exact text. */
export type Num = number | Decimal;

/** A bundle's files by relative path, e.g. `{"bundle.toml": "…"}`. */
export type BundleFileMap = Record<string, string>;

/** A bundle packed into one file (`eligo pack`, `Engine.pack()`). */
export interface PackedBundle {
  format: 'eligo-bundle/1';
  name: string;
  version: string;
  /** `sha256:…` over the files; checked when loading. */
  hash: string;
  files: BundleFileMap;
}

/** What `Engine.load` and `check` accept: a file map, a packed bundle, or its JSON text. */
export type BundleSource = { files: BundleFileMap } | PackedBundle | string;

/**
 * A load (or check) request on the wire: a file map or a packed bundle, with
 * the artifact's `sha256:…` beside it. `Engine.load` builds one from a
 * BundleSource and LoadOptions.
 */
export type LoadRequest = ({ files: BundleFileMap } | PackedBundle) & {
  /** Put in every envelope's `engine.artifact`. */
  artifact?: string;
  /** `false`: load for deciding only, without parsing the test files (faster; `test` is then refused). */
  tests?: boolean;
};

export type Severity = 'error' | 'warning';

/** One problem in one file of a bundle, with the span an editor underlines. */
export interface Diagnostic {
  severity: Severity;
  /** A stable identifier, e.g. `rhai-syntax`, `packed-hash`. */
  code: string;
  /** The bundle-relative file, e.g. `household.rhai`. */
  file: string;
  /** 1-based; 0 when the problem concerns the whole file. */
  line: number;
  /** 1-based, in characters; 0 when unknown. */
  column: number;
  /** Where the span ends (exclusive), 1-based line; 0 when there is no span. */
  end_line: number;
  /** Where the span ends (exclusive), 1-based column in characters; 0 when there is no span. */
  end_column: number;
  message: string;
  /** How to fix it, when the engine can tell. */
  help?: string;
}

/** A loaded bundle in a few words: for reports. */
export interface BundleSummary {
  name: string;
  version: string;
  /** `sha256:…` over the bundle's files. */
  hash: string;
  /** Entry point names, sorted. */
  entries: string[];
}

/** What `check` finds: every diagnostic, errors first. */
export interface CheckReport {
  /** No errors (warnings allowed). */
  ok: boolean;
  /** The bundle, when it loads; null when it does not. */
  bundle: BundleSummary | null;
  errors: number;
  warnings: number;
  diagnostics: Diagnostic[];
}

export type CompareOp = '<' | '<=' | '>' | '>=' | '==' | '!=';
/** The former name of CompareOp. */
export type Comparison = CompareOp;

/** `field op literal`, e.g. `age < 18`. */
export interface Condition {
  field: string;
  op: CompareOp;
  /**
   * The literal's text: a number's exact digits (`'18'` in `age < 18`) or a
   * string's content (`'long_term'` in `kind == "long_term"`); `text` shows
   * which.
   */
  literal: string;
  text: string;
}

export interface ObjectType {
  name: string;
  fields: Record<string, Field>;
}

export type Kind =
  | { type: 'string'; min_len: number; max_len: number }
  | { type: 'integer'; min?: number; max?: number }
  /** Bounds are exact decimal text, e.g. `'0'`, `'10000000'`. */
  | { type: 'money'; min?: string; max?: string }
  /** Bounds are exact decimal text, e.g. `'0'`, `'1'`. */
  | { type: 'decimal'; min?: string; max?: string; decimals?: number }
  | { type: 'bool' }
  | { type: 'date' }
  | { type: 'timestamp' }
  | { type: 'month' }
  | { type: 'enum'; values: string[] }
  | {
      type: 'array';
      items: Kind;
      min_items: number;
      max_items: number;
      /** Items must be strictly increasing by this field. */
      ascending_by?: string;
    }
  | { type: 'object'; object: ObjectType };

/** One field of an input object: its type and constraints. */
export type Field = Kind & {
  required: boolean;
  nullable: boolean;
  default?: Json;
  /** When the field is set, this must hold. */
  valid_when?: Condition;
  /** A sibling field this one's value may not exceed. */
  at_most?: string;
  description?: string;
};

export interface Schema {
  root: ObjectType;
}

export interface EntryInfo {
  name: string;
  description: string;
  schema: Schema;
  /** The same schema as JSON Schema (draft 2020-12). */
  json_schema: { [key: string]: Json };
}

export interface ParameterValueInfo {
  /** The date the value takes effect, YYYY-MM-DD. */
  from: string;
  value: Json;
  /** The policy clause it comes from. */
  source: string;
}

/** An effective-dated parameter with its whole history, oldest first. */
export interface ParameterInfo {
  name: string;
  type: 'integer' | 'decimal' | 'money' | 'bool' | 'string' | 'calendar';
  unit?: string;
  description?: string;
  values: ParameterValueInfo[];
}

export interface BundleInfo {
  name: string;
  version: string;
  /** `sha256:…` over the bundle's files. */
  hash: string;
  languages: string[];
  entries: EntryInfo[];
  parameters: ParameterInfo[];
}

export type Mode = 'strict' | 'partial';
/** `undetermined`: partial mode, some results wait for the fields under `needs`. */
export type Status = 'decided' | 'undetermined';

export interface DecideRequest<Input = Record<string, unknown>> {
  /** An entry point, e.g. `household` or `community`. */
  entry: string;
  input: Input;
  /** The moment decided for: RFC 3339 with an offset. */
  as_of: string;
  /** `partial`: absent fields the decision needs make it `undetermined`. */
  mode?: Mode;
  /** Language of reasons and questions (default: the bundle's first). */
  lang?: string;
}

/** Why: a rule that fired, in words, with the clause it comes from. */
export interface Reason {
  rule: string;
  text: string;
  source: string;
}

/** A field the decision needs and the input lacks (partial mode). */
export interface Need {
  /** Path in the input, e.g. `members[0].age`. */
  path: string;
  rules: string[];
  question: string;
}

/** A parameter value a decision read, with where it comes from. */
export interface ParameterUse {
  name: string;
  value: Json;
  /** The date it is in force from. */
  from: string;
  source: string;
}

/** The bundle a decision came from. */
export interface PolicyInfo {
  name: string;
  version: string;
  /** `sha256:…` over the bundle's files. */
  hash: string;
}

/** The engine a decision came from. */
export interface EngineInfo {
  version: string;
  /** `sha256:…` of the wasm that decided, when the host knows it. */
  artifact?: string;
}

/** An explained, reproducible decision. */
export interface Envelope<Result = { [key: string]: Json }> {
  entry: string;
  policy: PolicyInfo;
  engine: EngineInfo;
  as_of: string;
  mode: Mode;
  lang: string;
  status: Status;
  result: Result;
  /** Every rule that fired, in order. */
  reasons: Reason[];
  /** Partial mode: the fields still to ask for (absent when none). */
  needs?: Need[];
  parameters: ParameterUse[];
}

/** One broken rule of the input, at a JSON path. */
export interface FieldProblem {
  /** Path of the offending value, e.g. `members[0].age`; `$` is the whole input. */
  path: string;
  /** e.g. `type`, `required`, `min`, `enum`, `valid_when`, `needed`. */
  rule: string;
  message: string;
}

/** Where a rule stopped: file, line and column in its Rhai source. */
export interface RuleLocation {
  file: string;
  line: number;
  column: number;
  message: string;
}

/** Every kind of error answer a host can give. */
export type ErrorKind =
  /** The request is malformed: not the expected JSON, an unknown entry, a bad `as_of` or language. */
  | 'bad_request'
  /** The input breaks the entry's schema; no rule ran. */
  | 'invalid_input'
  /** Strict mode: the rules need fields the input does not give. */
  | 'missing_needed'
  /** A rule failed or hit one of the bundle's limits. */
  | 'rule_error'
  /** The bundle does not load: see `diagnostics`. */
  | 'bundle_error'
  /** A decision was asked of an engine with no bundle loaded. */
  | 'no_bundle'
  /** The host stopped the call: its deadline or memory cap. */
  | 'stopped'
  /** The host itself failed (the artifact could not be run). */
  | 'host_error'
  /** A line of a batch is not JSON. */
  | 'bad_json';

/** An error answer's body. */
export interface ErrorBody {
  kind: ErrorKind;
  /** One line for people. */
  message: string;
  /** Input problems, by JSON path (bad_request, invalid_input, missing_needed). */
  problems?: FieldProblem[];
  /** Bundle problems, by file and span (bundle_error). */
  diagnostics?: Diagnostic[];
  /** Where a rule stopped (rule_error, and stopped when known). */
  location?: RuleLocation;
}

/** An error answer as it is on the wire: `{"error": {…}}`; EligoError.answer is its text. */
export interface ErrorAnswer {
  error: ErrorBody;
}

/** An error answer: `message` is the text the CLI prints. */
export declare class EligoError extends Error {
  readonly name: 'EligoError';
  /** The engine's answer as JSON text, byte for byte what a server gets. */
  readonly answer: string;
  readonly kind: ErrorKind;
  /** Input problems (bad_request, invalid_input, missing_needed). */
  readonly problems: FieldProblem[];
  /** Bundle problems (bundle_error). */
  readonly diagnostics: Diagnostic[];
  /** Where the rule stopped (rule_error). */
  readonly location?: RuleLocation;
}

export interface Mismatch {
  path: string;
  expected: string;
  actual: string;
}

export interface CaseOutcome {
  file: string;
  name: string;
  line: number;
  passed: boolean;
  mismatches: Mismatch[];
  /** For a failed case: what it asked for, and the same parts of what came out. */
  expected?: Json;
  actual?: Json;
  /**
   * The operations its rules counted: what the bundle's `max_operations`
   * limits, the same in every runtime (0 when the input was refused before
   * the rules ran).
   */
  operations: number;
}

export interface TestReport {
  passed: number;
  failed: number;
  cases: CaseOutcome[];
  /** The bundle's limit on a decision's operations. */
  max_operations: number;
  /** Declared rules that no case makes fire. */
  uncovered_rules: string[];
}

export interface LoadOptions {
  /** The `sha256:…` of the artifact, put in every envelope's `engine.artifact`. */
  artifact?: string;
  /**
   * `false` loads the bundle for deciding only: its test files are hashed
   * with the rest but not parsed (two thirds of loading the default
   * bundle), and `test()` throws. Default `true`.
   */
  tests?: boolean;
}

/** Where the wasm comes from: a URL, a fetch Response, bytes or a compiled module. */
export type WasmSource = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

/**
 * Loads the engine. Without an argument the artifact next to this module is
 * used (fetched in a browser, read from disk in Node).
 */
export declare function init(source?: WasmSource | Promise<WasmSource>): Promise<void>;
/** Loads the engine from bytes or a compiled module, synchronously. */
export declare function initSync(module: BufferSource | WebAssembly.Module): void;
/** The engine's version. */
export declare function engineVersion(): string;
/** Checks a bundle without loading it; throws an EligoError only for a malformed request. */
export declare function check(bundle: BundleSource): CheckReport;
/** JSON text → value; numbers that are not safe integers become Decimal; a key named twice in one object is a SyntaxError. */
export declare function parse(text: string): Json;
/** Value → JSON text; a Decimal is written as its exact number. */
export declare function stringify(value: unknown): string;

/** A loaded, compiled policy bundle. */
export declare class Engine {
  private constructor();
  /** Loads a bundle; throws an EligoError (kind `bundle_error`) listing every diagnostic. */
  static load(bundle: BundleSource, options?: LoadOptions): Engine;
  /** Name, version, hash, languages and each entry with its input schema. */
  readonly info: BundleInfo;
  /** The entry points, each with its input schema. */
  entries(): EntryInfo[];
  /** One decision; throws an EligoError for a bad request, bad input or a failing rule. */
  decide<Result = { [key: string]: Json }, Input = Record<string, unknown>>(
    request: DecideRequest<Input>,
  ): Envelope<Result>;
  /**
   * One decision from a decide request's JSON as UTF-8 bytes: the envelope's
   * JSON as UTF-8 bytes, the very bytes `decide` reads (for a host that
   * stores, hashes or forwards them); throws an EligoError as `decide` does.
   */
  decideUtf8(requestBytes: Uint8Array): Uint8Array;
  /**
   * `decideUtf8` into `out`, as `TextEncoder.encodeInto` writes: returns how
   * many bytes of `out` the envelope took, allocating nothing. A buffer too
   * small is a RangeError whose `needed` is the envelope's length.
   */
  decideUtf8Into(requestBytes: Uint8Array, out: Uint8Array): number;
  /** Runs the bundle's own test cases; throws an EligoError for an engine loaded with `tests: false`. */
  test(): TestReport;
  /** The bundle as one packed JSON text, as `eligo pack` writes it. */
  pack(): string;
  /** Frees the engine's memory in the wasm instance. */
  free(): void;
  [Symbol.dispose](): void;
}

/** One change between two decisions. */
export interface Change {
  path: string;
  before: Json;
  after: Json;
}

/** The JSON paths where two decisions differ. */
export declare function diff(before: Envelope | EligoError, after: Envelope | EligoError): Change[];

/** How one yes/no or text leaf of the result changed across households. */
export interface ImpactTransitions {
  unchanged: number;
  changed: { from: string; to: string; count: number; examples: string[] }[];
  /** Value → households; null once a leaf has too many distinct values. */
  before: Record<string, number> | null;
  after: Record<string, number> | null;
}

/** An impact report, as `eligo impact --format json` gives it (without the run's own fields). */
export interface ImpactReport {
  households: number;
  changed: number;
  transitions: Record<string, ImpactTransitions>;
  totals: Record<string, { before: Num; after: Num; delta: Num; changed: number }>;
  rules: Record<string, { before: number; after: number }>;
  errors: { before: string; after: string; count: number }[];
  groups?: Record<string, Record<string, ImpactReport>>;
  /** The first changed households, with what changed and why (top level only). */
  examples?: ImpactExample[];
}

/** Why a decision came out as it did: its status and reasons, or its error kind. */
export type ImpactExplanation =
  | { status: Status; reasons: { rule: string; text: string }[] }
  | { error: ErrorKind };

/** A changed household: each changed leaf, and the reasons before and after. */
export interface ImpactExample {
  id: string;
  changes: { path: string; before: string; after: string }[];
  before: ImpactExplanation;
  after: ImpactExplanation;
}

/** A policy change's impact over households, accumulated in the engine. */
export declare class Impact {
  constructor();
  add(id: string, before: Envelope | EligoError, after: Envelope | EligoError, groups?: Record<string, string>): void;
  merge(other: Impact): void;
  report(): ImpactReport;
  free(): void;
}
