// What both pages share: the header, the language choice, online status,
// the service worker.
import { words, type Words } from './i18n';
import { el } from './form';

export function chosenLang(languages: string[]): string {
  const fromUrl = new URLSearchParams(location.search).get('lang');
  const stored = localStorage.getItem('eligo:lang');
  for (const lang of [fromUrl, stored]) if (lang && languages.includes(lang)) return lang;
  return languages[0] ?? 'en';
}

export function storeLang(lang: string): void {
  localStorage.setItem('eligo:lang', lang);
}

const LANG_NAMES: Record<string, string> = { 'zh-CN': '中文', en: 'English' };

/** Fills the page header: brand, navigation, the language switch and the connection state. */
export function header(
  page: 'form' | 'playground',
  languages: string[],
  lang: string,
  onLang: (lang: string) => void,
): { update: (w: Words) => void } {
  const root = document.getElementById('top')!;
  const w = words(lang);
  const nav = el('nav', { 'aria-label': 'Eligo' });
  const formLink = el('a', { href: '/', 'aria-current': page === 'form' ? 'page' : undefined }, w.form);
  const playLink = el('a', { href: '/playground.html', 'aria-current': page === 'playground' ? 'page' : undefined }, w.playground);
  nav.append(formLink, playLink);
  const select = el('select', { id: 'lang' });
  for (const l of languages) select.append(el('option', { value: l, selected: l === lang, lang: l }, LANG_NAMES[l] ?? l));
  const langLabel = el('label', { for: 'lang', class: 'lang' }, w.language, ' ', select);
  select.addEventListener('change', () => {
    storeLang(select.value);
    onLang(select.value);
  });
  const net = el('span', { class: 'net', id: 'net', role: 'status' });
  const showNet = (ww: Words) => {
    net.textContent = navigator.onLine ? ww.online : ww.offline;
    net.classList.toggle('off', !navigator.onLine);
  };
  let current = w;
  window.addEventListener('online', () => showNet(current));
  window.addEventListener('offline', () => showNet(current));
  showNet(w);
  root.replaceChildren(el('a', { class: 'brand', href: '/' }, 'Eligo'), nav, langLabel, net);
  return {
    update: (ww: Words) => {
      current = ww;
      formLink.textContent = ww.form;
      playLink.textContent = ww.playground;
      langLabel.firstChild!.textContent = ww.language;
      showNet(ww);
    },
  };
}

/**
 * Registers the service worker and hands it every same-origin URL this page
 * loaded (its assets, the engine module, the artifact, the bundle), so the
 * next visit works without a connection.
 */
export async function offlineReady(): Promise<void> {
  if (!('serviceWorker' in navigator)) return;
  try {
    await navigator.serviceWorker.register('/sw.js', { scope: '/' });
    const registration = await navigator.serviceWorker.ready;
    const urls = new Set<string>([location.pathname === '/' ? '/' : location.pathname, '/', '/playground.html']);
    for (const entry of performance.getEntriesByType('resource')) {
      const url = new URL(entry.name);
      if (url.origin === location.origin && !url.pathname.startsWith('/v1/decisions') && !url.pathname.startsWith('/v1/verify')) urls.add(url.pathname + url.search);
    }
    registration.active?.postMessage({ type: 'cache', urls: [...urls] });
  } catch (error) {
    console.warn('no offline support:', error);
  }
}

/** Now, as an RFC 3339 timestamp at a fixed offset (the policy's local time). */
export function nowAt(offset: string): string {
  const sign = offset.startsWith('-') ? -1 : 1;
  const [h, m] = offset.slice(1).split(':').map(Number);
  const minutes = sign * (h * 60 + m);
  const local = new Date(Date.now() + minutes * 60_000);
  return `${local.toISOString().slice(0, 19)}${offset}`;
}
