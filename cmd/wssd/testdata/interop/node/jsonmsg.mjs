// jsonmsg.mjs: JSON messages of exact sizes for the permessage-deflate
// checks (deflate.mjs, ../browser/deflate.mjs): the kind of text a server
// compresses in practice, with multi-byte characters in it, the same for a
// given seed on every run.

// rng returns a pseudo-random generator of numbers in [0, 1) for seed
// (mulberry32).
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = ["Ada", "Grace", "Linus", "Barbara", "Ken", "Radia", "Edsger", "Frances", "Dennis", "Margaret"];
const CITIES = ["Zürich", "São Paulo", "東京", "Kraków", "Reykjavík", "Montréal", "Αθήνα", "Lisboa"];
const TAGS = ["admin", "beta", "ops", "ws", "deflate", "json", "edge", "mobile", "✓", "🚀"];

function record(r, id) {
  const pick = (a) => a[Math.floor(r() * a.length)];
  return {
    id,
    name: pick(NAMES),
    email: `${pick(NAMES).toLowerCase()}${Math.floor(r() * 1000)}@example.com`,
    city: pick(CITIES),
    active: r() < 0.5,
    score: Math.round(r() * 1e6) / 100,
    tags: [pick(TAGS), pick(TAGS)],
  };
}

// json returns a JSON text of exactly n UTF-8 bytes (n of 64 or more): an
// object with a sequence number, records drawn with rng(seed) and a
// padding field that makes up the size.
export function json(n, seed = n) {
  const r = rng(seed);
  const head = `{"type":"update","seq":${seed},"items":[`;
  const tail = '],"pad":"';
  const end = '"}';
  const items = [];
  let size = Buffer.byteLength(head) + Buffer.byteLength(tail) + Buffer.byteLength(end);
  for (;;) {
    const item = JSON.stringify(record(r, items.length));
    const add = Buffer.byteLength(item) + (items.length > 0 ? 1 : 0);
    if (size + add > n) break;
    items.push(item);
    size += add;
  }
  const s = head + items.join(",") + tail + "-".repeat(n - size) + end;
  if (Buffer.byteLength(s) !== n) throw new Error(`json(${n}) is ${Buffer.byteLength(s)} bytes`);
  return s;
}
