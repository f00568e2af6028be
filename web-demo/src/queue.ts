// Submissions made offline wait in IndexedDB and are sent when the
// connection returns. Each carries the Idempotency-Key it was given when it
// was queued, so a submission whose answer was lost is answered again by
// the server rather than decided twice; flushes are serialised across tabs
// with a Web Lock.
export interface Queued {
  key: string;
  entry: string;
  /** The request body's JSON text: `{"input", "as_of", "lang"}`, numbers exact. */
  body: string;
  /** The input's JSON text, numbers exact (for /v1/verify). */
  input: string;
  /** The envelope this browser computed, strict mode (for /v1/verify). */
  envelope: string;
  household?: string;
  queued_at: string;
}

const DB = 'eligo';
const STORE = 'outbox';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'key' });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function tx<T>(mode: IDBTransactionMode, run: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const transaction = db.transaction(STORE, mode);
      const request = run(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(request.result);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
  } finally {
    db.close();
  }
}

export function enqueue(item: Queued): Promise<IDBValidKey> {
  return tx('readwrite', (store) => store.put(item));
}

export async function pending(): Promise<Queued[]> {
  const all = await tx<Queued[]>('readonly', (store) => store.getAll() as IDBRequest<Queued[]>);
  return all.sort((a, b) => a.queued_at.localeCompare(b.queued_at));
}

export function remove(key: string): Promise<undefined> {
  return tx('readwrite', (store) => store.delete(key));
}

/** Runs `send` on each waiting submission, oldest first, one flush at a time. */
export async function flush(send: (item: Queued) => Promise<'sent' | 'retry' | 'refused'>): Promise<void> {
  const run = async () => {
    for (const item of await pending()) {
      const outcome = await send(item);
      if (outcome === 'retry') return;
      await remove(item.key);
    }
  };
  if ('locks' in navigator) await navigator.locks.request('eligo-outbox', run);
  else await run();
}
