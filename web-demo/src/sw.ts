// The service worker: the page, the engine and the bundles keep working
// without a connection. Files under /engine/<sha256>/ and /engine/bundles/
// and the page's hashed assets never change, so they are served from the
// cache first; the page itself and /engine/current go to the network first
// and fall back to the cache. Decisions and verification are never cached.
export {};
declare const self: ServiceWorkerGlobalScope;

const CACHE = 'eligo-v1';

const immutable = (url: URL) =>
  url.pathname.startsWith('/engine/') && url.pathname !== '/engine/current' ? true : url.pathname.startsWith('/assets/');

const cacheable = (url: URL) =>
  url.origin === self.location.origin &&
  !url.pathname.startsWith('/v1/decisions') &&
  !url.pathname.startsWith('/v1/verify') &&
  !url.pathname.startsWith('/v1/evaluate') &&
  !url.pathname.startsWith('/metrics');

self.addEventListener('install', () => {
  void self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('message', (event) => {
  const data = event.data as { type?: string; urls?: string[] };
  if (data?.type !== 'cache' || !Array.isArray(data.urls)) return;
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await Promise.all(
        data.urls!.map(async (path) => {
          const url = new URL(path, self.location.origin);
          if (!cacheable(url)) return;
          if (immutable(url) && (await cache.match(url))) return;
          try {
            const response = await fetch(url, { cache: 'no-cache' });
            if (response.ok) await cache.put(url, response);
          } catch {
            /* offline: the next visit tries again */
          }
        }),
      );
    })(),
  );
});

async function cacheFirst(request: Request): Promise<Response> {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(request);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

async function networkFirst(request: Request): Promise<Response> {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (error) {
    const hit = await cache.match(request, { ignoreSearch: request.mode === 'navigate' });
    if (hit) return hit;
    throw error;
  }
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (!cacheable(url)) return;
  event.respondWith(immutable(url) ? cacheFirst(request) : networkFirst(request));
});
