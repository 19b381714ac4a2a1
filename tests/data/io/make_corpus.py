#!/usr/bin/env python3
"""Regenerates the sample and bad-input files of tests/data/io (run from this folder).

Good files are read by tests/unit/test_io_*.c; the bad_* files each trip one
check of the readers (the expected message fragment is listed in
tests/unit/test_io_corpus.c). They double as seeds for fuzzing."""
import json
import struct


def w(name, data):
    if isinstance(data, str):
        data = data.encode()
    with open(name, "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- CSV
w("small.csv", "1,2,3,0\n4,5,6,1\n7.5,-8e-1,+9,2\n0.25,1E2,-0,1\n")
w("header.csv", "a,b,label\n1,2,0\n3,4,1\n")
w("crlf.csv", "1, 2 ,3\r\n\r\n4,5,6\r\n  \r\n7,8,9\r\n\r\n")
w("regression.csv", "0.5,1.5,10,20\n2.5,3.5,30,40\n")
w("bad_empty.csv", "")
w("bad_header_only.csv", "a,b,c\n")
w("bad_cell.csv", "1,2,3\n4,5,6\n7,abc,9\n")
w("bad_ragged.csv", "1,2,3\n4,5,6\n7,8\n")
w("bad_nan.csv", "1,2,3\n4,nan,6\n")
w("bad_empty_cell.csv", "1,2,3\n4,,6\n")
w("bad_label.csv", "1,2,0\n3,4,1.5\n")
w("bad_negative_label.csv", "1,2,0\n3,4,-1\n")
w("bad_range.csv", "1,2,1e39\n")

# ---------------------------------------------------------------- IDX
def idx_images(count, rows, cols, pixels, magic=0x803):
    return struct.pack(">IIII", magic, count, rows, cols) + bytes(pixels)


def idx_labels(count, labels, magic=0x801):
    return struct.pack(">II", magic, count) + bytes(labels)


w("tiny-images-idx3-ubyte", idx_images(3, 2, 3, range(18)))
w("tiny-labels-idx1-ubyte", idx_labels(3, [7, 0, 9]))
w("bad-magic-images-idx3-ubyte", idx_images(3, 2, 3, range(18), magic=0))
w("bad-short-images-idx3-ubyte", idx_images(3, 2, 3, range(17)))
w("bad-count-labels-idx1-ubyte", idx_labels(4, [1, 2, 3, 4]))
w("bad-truncated-labels-idx1-ubyte", idx_labels(3, [1, 2]))
w("bad-magic-labels-idx1-ubyte", idx_labels(3, [1, 2, 3], magic=0x803))


# ---------------------------------------------------------------- safetensors
def st(header, data, pad=True):
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


f32 = struct.pack("<6f", 1, 2, 3, 4, 5, 6)
f16 = struct.pack("<2H", 0x3E00, 0xC000)          # 1.5, -2
bf16 = struct.pack("<2H", 0x3FC0, 0x4049)         # 1.5, 3.140625
f64 = struct.pack("<d", -0.125)
i64 = struct.pack("<q", 42)
i32 = struct.pack("<2i", -3, 7)
data = f32 + f16 + bf16 + f64 + i64 + i32
o = 0
hdr = {"__metadata__": {"format": "pt"}}
for name, dt, shape, blob in [("fc.weight", "F32", [2, 3], f32), ("half", "F16", [2], f16),
                              ("bhalf", "BF16", [2], bf16), ("dbl", "F64", [], f64),
                              ("bn.num_batches_tracked", "I64", [], i64), ("ints", "I32", [2], i32)]:
    hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [o, o + len(blob)]}
    o += len(blob)
w("good.safetensors", st(hdr, data))

one = {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
w("bad_hdrlen.safetensors", struct.pack("<Q", 123456) + b"{}" + b"\0" * 90)
w("bad_short.safetensors", b"\x05\0\0")
w("bad_offsets.safetensors",
  st({"0.weight": {"dtype": "F32", "shape": [100], "data_offsets": [0, 400]}}, b"\0" * 256))
w("bad_dtype.safetensors",
  st({"fc.bias": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}}, b"\0" * 8))
w("bad_count.safetensors",
  st({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}}, b"\0" * 24))
w("bad_overlap.safetensors",
  st({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
      "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}, b"\0" * 24))
raw = b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}'
w("bad_duplicate.safetensors", struct.pack("<Q", len(raw)) + raw + b"\0" * 16)
raw = b'{"w":{"dtype":"F32","shape":[2] "data_offsets":[0,8]}}'
w("bad_json.safetensors", struct.pack("<Q", len(raw)) + raw + b"\0" * 8)
raw = b'{"w":{"dtype":"F32","shape":[1,2,3,4,5,6,7,8,9],"data_offsets":[0,8]}}'
w("bad_ndim.safetensors", struct.pack("<Q", len(raw)) + raw + b"\0" * 8)
raw = b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}'
w("bad_unterminated.safetensors", struct.pack("<Q", len(raw)) + raw + b"\0" * 8)
w("bad_empty.safetensors", b"")
