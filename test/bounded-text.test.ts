import { describe, expect, it } from 'vitest';
import { BoundedText } from '../src/portkey/transport.js';

const bytes = (s: string) => new TextEncoder().encode(s);

/** Feeds `data` in pieces cut at `cuts` (byte offsets) and returns the text, or undefined past the bound. */
function read(data: Uint8Array, cuts: number[], max = 1024): string | undefined {
  const text = new BoundedText(max);
  let from = 0;
  for (const to of [...cuts, data.byteLength]) {
    if (!text.add(data.subarray(from, to))) return undefined;
    from = to;
  }
  return text.finish();
}

describe('BoundedText (the upstream answer as text)', () => {
  const body = '{"invite_link":"https://app.portkey.ai/invite/é€😀","id":"ß"}';
  const data = bytes(body);

  it('gives the same text wherever the chunks split a multi-byte character', () => {
    for (let cut = 0; cut <= data.byteLength; cut++) expect(read(data, [cut])).toBe(body);
    expect(read(data, Array.from({ length: data.byteLength - 1 }, (_, i) => i + 1))).toBe(body);
  });

  it('decodes as a TextDecoder does: invalid bytes become U+FFFD, a leading BOM is dropped', () => {
    const invalid = new Uint8Array([0x7b, 0xff, 0xc3, 0x7d]);
    expect(read(invalid, [2])).toBe(new TextDecoder().decode(invalid));
    expect(read(invalid, [2])).toBe('{\uFFFD\uFFFD}');
    expect(read(new Uint8Array([0xef, 0xbb, 0xbf, ...bytes('{}')]), [1])).toBe('{}');
    // A decoder shared by calls keeps nothing from an unfinished one.
    expect(read(new Uint8Array([0xe2, 0x82]), [])).toBe('\uFFFD');
    expect(read(bytes('ok'), [])).toBe('ok');
  });

  it('stops past the bound, counting bytes, not characters', () => {
    expect(read(bytes('€€'), [3], 6)).toBe('€€');
    expect(read(bytes('€€'), [3], 5)).toBeUndefined();
    expect(read(bytes(''), [], 0)).toBe('');
  });
});
