#!/usr/bin/env python3
# round_bf16.py IN.safetensors OUT.safetensors — every F32 tensor whose name
# ends in "weight" rounded to bfloat16 precision (kept as F32): the
# oracle of tests/run_bf16.sh, independent of the runtime's bit trick.
# Normal numbers only need this (frexp: v = m 2^e; 8 significant bits;
# Python's round() breaks ties to even).
import json, math, struct, sys
src, dst = sys.argv[1], sys.argv[2]
b = open(src, 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
hdr = json.loads(b[8:8 + n]); data = bytearray(b[8 + n:])
def bf16(v):
    if v == 0 or math.isinf(v) or math.isnan(v): return v
    m, e = math.frexp(v)            # v = m 2^e, 0.5 <= |m| < 1
    return math.ldexp(round(m * 256), e - 8)   # 8 significant bits, ties to even
for k, t in hdr.items():
    if k == '__metadata__' or not k.endswith('weight'): continue
    assert t['dtype'] == 'F32'
    s, e = t['data_offsets']
    vals = struct.unpack('<%df' % ((e - s) // 4), data[s:e])
    data[s:e] = struct.pack('<%df' % len(vals), *[bf16(v) for v in vals])
open(dst, 'wb').write(b[:8 + n] + bytes(data))
