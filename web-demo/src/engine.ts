// Loads the engine the server serves: /engine/current names the artifact
// (by sha256), its typed ES-module API and the packed bundles (by hash).
// The module is imported at runtime from that URL, never bundled into the
// page, so the page runs exactly the artifact the server decides with.
import type * as Eligo from '../../wasm/js/index.js';

export type EligoModule = typeof Eligo;
export type { Eligo };

export interface PolicyRef {
  name: string;
  hash: string;
  url: string;
}

export interface EngineCurrent {
  artifact: string;
  module: string;
  wasm: string;
  policies: PolicyRef[];
}

export interface Loaded {
  current: EngineCurrent;
  mod: EligoModule;
  engine: Eligo.Engine;
  packed: Eligo.PackedBundle;
  packedText: string;
  policy: PolicyRef;
}

const moduleCache = new Map<string, Promise<EligoModule>>();

export async function fetchJson<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, init);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

/** The typed API at `current.module`, initialised with the artifact at `current.wasm`. */
export function loadModule(current: EngineCurrent): Promise<EligoModule> {
  let promise = moduleCache.get(current.module);
  if (!promise) {
    promise = (async () => {
      const mod = (await import(/* @vite-ignore */ current.module)) as EligoModule;
      await mod.init(current.wasm);
      performance.mark('eligo:wasm-ready');
      return mod;
    })();
    moduleCache.set(current.module, promise);
  }
  return promise;
}

/** `sha256:<hex>` of some text or bytes, with WebCrypto. */
export async function sha256(data: string | BufferSource): Promise<string> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return `sha256:${[...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** Loads the engine and one of the server's bundles (the default when no name is given), for deciding. */
export async function loadEngine(policyName?: string): Promise<Loaded> {
  const current = await fetchJson<EngineCurrent>('/engine/current');
  performance.mark('eligo:engine-current');
  const policy = current.policies.find((p) => p.name === policyName) ?? current.policies[0];
  if (!policy) throw new Error('the server serves no policy');
  const [mod, packedText] = await Promise.all([
    loadModule(current),
    fetch(policy.url).then((r) => {
      if (!r.ok) throw new Error(`${policy.url}: HTTP ${r.status}`);
      return r.text();
    }),
  ]);
  performance.mark('eligo:fetched');
  // The form only decides: its test files are not parsed (two thirds of
  // loading the default bundle). The playground loads with them.
  const engine = mod.Engine.load(packedText, { artifact: current.artifact, tests: false });
  performance.mark('eligo:bundle-loaded');
  // A packed bundle is strings only (no money), so the browser's own JSON
  // parser reads it exactly, in a fraction of the engine's `parse` (which
  // builds Decimals): 14 ms of the first visit.
  const packed = JSON.parse(packedText) as Eligo.PackedBundle;
  return { current, mod, engine, packed, packedText, policy };
}
