/**
 * Reading a request body with a size limit. A declared Content-Length over the limit is refused
 * before a byte is read; a body without one (chunked) is counted as it streams and the stream
 * is cancelled as soon as it passes the limit, so an endless body costs at most the limit.
 */
export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`Request body is larger than ${limit} bytes`);
    this.name = "BodyTooLarge";
  }
}

/** Throws BodyTooLarge when the request says it is over the limit; reads nothing. */
export function checkDeclaredLength(req: Request, limit: number): void {
  const declared = req.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > limit) {
    throw new BodyTooLarge(limit);
  }
}

export async function readLimited(
  req: Request,
  limit: number,
): Promise<Uint8Array<ArrayBuffer>> {
  checkDeclaredLength(req, limit);
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLarge(limit);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}
