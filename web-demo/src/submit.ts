// The official decision: POST /v1/decisions/{entry} with an Idempotency-Key,
// then POST /v1/verify with the envelope this browser computed, and the
// receipt's Ed25519 signature checked here with the key from /v1/keys.
import type { Eligo, EligoModule } from './engine';
import { sha256 } from './engine';

export interface Official {
  decision_id: string;
  envelope: Eligo.Envelope;
  receipt: Record<string, string>;
  /** 201 first time, 200 for a repeated key. */
  status: number;
}

export interface Verification {
  agree: boolean;
  same_policy: boolean;
  same_engine: boolean;
  differences: { path: string; before?: Eligo.Json; after?: Eligo.Json }[];
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Eligo.ErrorBody | undefined,
    message: string,
  ) {
    super(message);
  }
}

export function newKey(): string {
  return crypto.randomUUID();
}

async function post(mod: EligoModule, url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; value: Eligo.Json }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await response.text();
  let value: Eligo.Json = null;
  try {
    value = mod.parse(text);
  } catch {
    value = null;
  }
  if (!response.ok) {
    const error = (value as { error?: Eligo.ErrorBody } | null)?.error;
    throw new HttpError(response.status, error, error?.message ?? `HTTP ${response.status}`);
  }
  return { status: response.status, value };
}

export async function submitDecision(mod: EligoModule, entry: string, body: string, key: string): Promise<Official> {
  const { status, value } = await post(mod, `/v1/decisions/${encodeURIComponent(entry)}`, body, { 'Idempotency-Key': key });
  return { ...(value as unknown as Omit<Official, 'status'>), status };
}

export async function verifyEnvelope(mod: EligoModule, input: string, envelope: string): Promise<Verification> {
  const { value } = await post(mod, '/v1/verify', `{"input":${input},"envelope":${envelope}}`);
  return value as unknown as Verification;
}

const ATTESTATION = ['format', 'decision_id', 'key_id', 'input_sha256', 'policy_hash', 'artifact_sha256', 'as_of', 'envelope_sha256'] as const;

function hexBytes(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A JSON value with object keys sorted, as the server hashes an input. */
function canonical(value: Eligo.Json, mod: EligoModule): Eligo.Json {
  if (Array.isArray(value)) return value.map((v) => canonical(v, mod));
  if (value !== null && typeof value === 'object' && !(value instanceof mod.Decimal)) {
    const out: { [key: string]: Eligo.Json } = {};
    for (const key of Object.keys(value).sort()) out[key] = canonical(value[key], mod);
    return out;
  }
  return value;
}

/**
 * Checks a receipt in this browser: the server's key signed exactly this
 * attestation, which names this input and this envelope. Returns what
 * failed, or null when it verifies.
 */
export async function verifyReceipt(mod: EligoModule, official: Official, input: Eligo.Json): Promise<string | null> {
  const keys = (await (await fetch('/v1/keys')).json()) as { key_id: string; public_key_hex: string }[];
  const receipt = official.receipt;
  const key = keys.find((k) => k.key_id === receipt.key_id);
  if (!key) return `unknown key ${receipt.key_id}`;
  const attestation: Record<string, string> = {};
  for (const field of ATTESTATION) attestation[field] = receipt[field];
  const message = new TextEncoder().encode(JSON.stringify(attestation));
  let ok: boolean;
  try {
    const publicKey = await crypto.subtle.importKey('raw', hexBytes(key.public_key_hex), { name: 'Ed25519' }, false, ['verify']);
    ok = await crypto.subtle.verify({ name: 'Ed25519' }, publicKey, hexBytes(receipt.signature), message);
  } catch (error) {
    return `Ed25519 is not available here (${(error as Error).message})`;
  }
  if (!ok) return 'bad signature';
  if ((await sha256(mod.stringify(canonical(input, mod)))) !== receipt.input_sha256) return 'input_sha256 differs';
  if ((await sha256(mod.stringify(official.envelope))) !== receipt.envelope_sha256) return 'envelope_sha256 differs';
  return null;
}
