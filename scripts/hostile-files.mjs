// Hostile inputs for the containment tests (test/extension/analysisProcess.test.ts, test/e2e): files that
// exhaust a reader without budgets. Written on the fly (a few hundred KB), never committed.
//
//   dupBombPt(): a torch.save-style zip whose deflated data.pkl is the pickle `\x80\x02 N` followed by
//   200M DUP opcodes and STOP: 195 KB on disk, 200 MB inflated, and an unbounded pickle stack grows to
//   200M entries (V8 aborts the process with "invalid size" near 2 GB).

import zlib from 'node:zlib';

/** A zip of the given members, each deflated (method 8), in the layout torch.save writes (<prefix>/data.pkl …). */
function deflatedZip(members) {
  const chunks = [];
  const central = [];
  let offset = 0;
  for (const [name, data] of members) {
    const nameBytes = Buffer.from(name, 'utf8');
    const packed = zlib.deflateRawSync(data, { level: 9 });
    const crc = zlib.crc32(data) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(8, 10);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(packed.length, 20);
    c.writeUInt32LE(data.length, 24);
    c.writeUInt16LE(nameBytes.length, 28);
    c.writeUInt32LE(offset, 42);
    central.push(c, nameBytes);
    chunks.push(local, nameBytes, packed);
    offset += 30 + nameBytes.length + packed.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...chunks, cd, end]);
}

export function dupBombPt(dups = 200_000_000) {
  const pickle = Buffer.alloc(3 + dups + 1, 0x32); // '2' = DUP
  pickle[0] = 0x80; // PROTO 2
  pickle[1] = 0x02;
  pickle[2] = 0x4e; // NONE
  pickle[pickle.length - 1] = 0x2e; // STOP
  return deflatedZip([
    ['archive/data.pkl', pickle],
    ['archive/version', Buffer.from('3\n')],
  ]);
}
