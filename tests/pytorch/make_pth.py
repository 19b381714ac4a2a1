#!/usr/bin/python3
"""make_pth.py — the .pth fixtures of nnc's PyTorch state_dict reader
(runtime/io/pth.c), written by Debian's PyTorch (run with /usr/bin/python3)
into tests/data/pth/ and committed:

  net.nnet, net.pth, net.safetensors, input.csv, expected.csv
      a small CNN (conv, batch norm, pool, linear) saved by
      torch.save(model.state_dict()), the same state_dict as safetensors,
      and PyTorch's eval-mode outputs on input.csv (run_pth.sh).
  views.pth / views.safetensors
      tensors that share one storage: slices with storage offsets, a
      transposed (non-contiguous) view, a strided slice, a 0-d tensor.
  shared_net.pth
      net's state_dict with every tensor a view of one flat storage and the
      linear weight stored transposed (same values as net.pth).
  dtypes.pth / dtypes.safetensors
      float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool;
      the safetensors holds the values as F32 (I64 for the integers).
  zip64.pth
      net.pth rewritten by Python's zipfile with zip64 records forced.
  bad_*.pth
      legacy (non-zip) format, a pickle calling builtins.eval, a whole
      model, a checkpoint dict, a deflated archive, no data.pkl, a missing
      storage, a truncated archive, a corrupted storage (CRC-32).

Safetensors are written by the small writer below (the reference the C
reader is compared with), never by nnc. Deterministic: fixed seeds, and the
zip timestamps are fixed.
"""
import collections
import io
import json
import os
import struct
import sys
import zipfile

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "pth")


def st_bytes(t):
    t = t.detach().contiguous()
    if t.dtype in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool):
        return "I64", t.to(torch.int64).numpy().astype("<i8").tobytes()
    return "F32", t.to(torch.float32).numpy().astype("<f4").tobytes()


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        code, raw = st_bytes(t)
        header[name] = {"dtype": code, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def fmt(v):
    return "%.9g" % v


def write_csv(path, t):
    rows = t.detach().reshape(t.shape[0], -1).tolist()
    with open(path, "w") as f:
        for r in rows:
            f.write(",".join(fmt(v) for v in r) + "\n")


def p(name):
    return os.path.join(OUT, name)


def save(obj, name, **kw):
    torch.save(obj, p(name), **kw)


def rezip(src, dst, compression=zipfile.ZIP_STORED, zip64=False, drop=None):
    """src's entries written again by Python's zipfile (fixed timestamps)."""
    with zipfile.ZipFile(p(src)) as zin:
        items = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    old = zipfile.ZIP64_LIMIT
    if zip64:
        zipfile.ZIP64_LIMIT = 1  # every size and offset goes to zip64 fields
    try:
        with zipfile.ZipFile(p(dst), "w", compression=compression) as z:
            for name, data in items:
                if drop and name.endswith(drop):
                    continue
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = compression
                z.writestr(info, data)
    finally:
        zipfile.ZIP64_LIMIT = old


def net_model():
    torch.manual_seed(1406)
    m = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(),
                      nn.MaxPool2d(2), nn.Flatten(), nn.Linear(12, 4))
    g = torch.Generator().manual_seed(7)
    bn = m[1]
    with torch.no_grad():
        bn.weight.copy_(torch.rand(3, generator=g) + 0.5)
        bn.bias.copy_(torch.randn(3, generator=g) * 0.2)
        bn.running_mean.copy_(torch.randn(3, generator=g) * 0.5)
        bn.running_var.copy_(torch.rand(3, generator=g) * 1.7 + 0.3)
        bn.num_batches_tracked.fill_(10)
    return m.eval()


NET_NNET = """# The .pth reader's end-to-end model (tests/pytorch/make_pth.py): the same
# nn.Sequential in PyTorch saved its state_dict as net.pth.

model net {
    input [2, 4, 4]
    conv2d(2, 3, 3, padding = 1)
    batchnorm2d(3)
    relu
    maxpool2d(2)
    flatten
    linear(12, 4)
}
"""


def shared_state(sd):
    """sd's tensors as views of one flat storage; 2-D weights stored transposed."""
    floats = [(k, v) for k, v in sd.items() if v.dtype == torch.float32]
    flat = torch.zeros(3 + sum(v.numel() for _, v in floats))  # 3 unused leading floats
    out, at = collections.OrderedDict(), 3
    for k, v in sd.items():
        if v.dtype != torch.float32:
            out[k] = v.clone()
            continue
        n = v.numel()
        if v.dim() == 2:  # a transposed view: storage holds v.t() row-major
            flat[at:at + n].copy_(v.t().reshape(-1))
            view = flat[at:at + n].view(v.shape[1], v.shape[0]).t()
        else:
            flat[at:at + n].copy_(v.reshape(-1))
            view = flat[at:at + n].view(v.shape)
        assert torch.equal(view, v)
        out[k] = view
        at += n
    return out


def make_net():
    m = net_model()
    with open(p("net.nnet"), "w") as f:
        f.write(NET_NNET)
    torch.manual_seed(77)
    x = torch.randn(6, 2, 4, 4) * 1.5
    with torch.no_grad():
        y = m(x)
    write_csv(p("input.csv"), x)
    write_csv(p("expected.csv"), y)
    sd = m.state_dict()
    save(sd, "net.pth")
    write_safetensors(p("net.safetensors"), sd)
    shared = shared_state(sd)
    save(shared, "shared_net.pth")
    back = torch.load(p("shared_net.pth"))
    for k in sd:
        assert torch.equal(back[k], sd[k]), k
    assert back["5.weight"].stride() == (1, 4), back["5.weight"].stride()
    rezip("net.pth", "zip64.pth", zip64=True)
    for k, v in torch.load(p("zip64.pth")).items():
        assert torch.equal(v, sd[k]), k
    return m, sd


def make_views():
    torch.manual_seed(3)
    base = torch.randn(6, 5)
    sd = collections.OrderedDict()
    sd["whole"] = base
    sd["rows"] = base[2:4]            # storage offset 10
    sd["col"] = base[:, 3]            # stride (5,), offset 3
    sd["t"] = base.t()                # stride (1, 5)
    sd["every_other"] = base[::2, 1::2]
    sd["scalar"] = base[4, 4]         # 0-d, offset 24
    sd["cube"] = torch.arange(24, dtype=torch.float32).view(2, 3, 4).permute(2, 0, 1)
    sd["empty"] = base[3:3]
    save(sd, "views.pth")
    write_safetensors(p("views.safetensors"), sd)


def make_dtypes():
    sd = collections.OrderedDict()
    v = torch.tensor([[0.5, -1.25, 3.0], [65504.0, -2e-3, 1e-7]])
    sd["f16"] = v.half()
    sd["bf16"] = v.bfloat16()
    sd["f64"] = v.double() / 3
    sd["i64"] = torch.tensor([-5, 0, 7, 1 << 40])
    sd["i32"] = torch.tensor([-2147483648, 3, 2147483647], dtype=torch.int32)
    sd["i16"] = torch.tensor([-32768, 12, 32767], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 1, 127], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 200, 255], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    sd["count"] = torch.tensor(10)
    save(sd, "dtypes.pth")
    write_safetensors(p("dtypes.safetensors"), sd)


class Evil:
    def __reduce__(self):
        return (eval, ("1+1",))


def make_bad(m, sd):
    save(sd, "bad_legacy.pth", _use_new_zipfile_serialization=False)
    save(collections.OrderedDict([("w", torch.ones(2)), ("x", Evil())]), "bad_eval.pth")
    save(m, "bad_model.pth")
    save({"model": sd, "epoch": 3}, "bad_checkpoint.pth")
    rezip("net.pth", "bad_deflate.pth", compression=zipfile.ZIP_DEFLATED)
    rezip("net.pth", "bad_nopickle.pth", drop="/data.pkl")
    rezip("net.pth", "bad_nostorage.pth", drop="/data/0")
    data = open(p("net.pth"), "rb").read()
    with open(p("bad_truncated.pth"), "wb") as f:
        f.write(data[:len(data) // 2])
    # flip one byte inside the first storage (archive/data/0): a CRC-32 mismatch
    with zipfile.ZipFile(p("net.pth")) as z:
        info = next(i for i in z.infolist() if i.filename.endswith("/data/0"))
    hdr = info.header_offset
    nlen, xlen = struct.unpack("<HH", data[hdr + 26:hdr + 30])
    at = hdr + 30 + nlen + xlen
    bad = bytearray(data)
    bad[at] ^= 0x40
    with open(p("bad_crc.pth"), "wb") as f:
        f.write(bytes(bad))


def main():
    if not torch.__version__ or sys.version_info < (3, 6):
        raise SystemExit("make_pth.py needs PyTorch")
    os.makedirs(OUT, exist_ok=True)
    m, sd = make_net()
    make_views()
    make_dtypes()
    make_bad(m, sd)
    print("make_pth.py: wrote %s (torch %s)" % (os.path.normpath(OUT), torch.__version__))


if __name__ == "__main__":
    main()
