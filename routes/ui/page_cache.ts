/**
 * The pages `conditional` (cache.ts) rendered lately, by ETag, and the renders under way, which
 * the requests that want the same new page wait for instead of rendering it again each.
 */
import type { Sql } from "../../db/client.ts";

export interface Page {
  body: Uint8Array<ArrayBuffer>;
  gzip: Uint8Array<ArrayBuffer> | null;
}

/**
 * The pages rendered lately, least recently used first out. Bounded in bytes: a grid of 200 ×
 * 25 cells is about 250 KB of HTML and 20 KB gzipped, so the default keeps about a hundred.
 */
export class PageCache {
  #pages = new Map<string, Page>();
  #bytes = 0;

  constructor(readonly maxBytes = 32 * 1024 * 1024) {}

  get(key: string): Page | undefined {
    const page = this.#pages.get(key);
    if (page) {
      this.#pages.delete(key);
      this.#pages.set(key, page);
    }
    return page;
  }

  set(key: string, page: Page): void {
    const old = this.#pages.get(key);
    if (old) this.#bytes -= size(old);
    this.#pages.delete(key);
    this.#pages.set(key, page);
    this.#bytes += size(page);
    for (const [oldest, p] of this.#pages) {
      if (this.#bytes <= this.maxBytes || oldest === key) break;
      this.#pages.delete(oldest);
      this.#bytes -= size(p);
    }
  }

  get bytes(): number {
    return this.#bytes;
  }
}

function size(page: Page): number {
  return page.body.byteLength + (page.gzip?.byteLength ?? 0);
}

export interface PageStore {
  pages: PageCache;
  rendering: Map<string, Promise<Page | null>>;
}

// Per database (the memo map a database and its transactions share): a test process opens many.
const stores = new WeakMap<Map<string, unknown>, PageStore>();

export function pageStore(sql: Sql): PageStore {
  let store = stores.get(sql.cache);
  if (!store) stores.set(sql.cache, store = { pages: new PageCache(), rendering: new Map() });
  return store;
}
