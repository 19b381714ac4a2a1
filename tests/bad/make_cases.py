#!/usr/bin/env python3
"""make_cases.py — writes the bad-input corpus tests/bad/cases/NAME.{ext,expect}.

Each case is one input file and NAME.expect, lines of `key: value`:
  cmd:    how the file is used (see run_bad.sh): check | build |
          build-weights MODEL | infer-weights MODEL | init MODEL |
          infer MODEL | eval MODEL | train MODEL |
          eval-images MODEL | eval-labels MODEL
  status: the expected exit status (1 for bad input; 0 for the dtype cases)
  stderr: an extended regex (grep -E) that standard error must match
  stdout: (optional) an extended regex standard output must match
  env:    (optional) VAR=VALUE set for the command
Rerun after editing: python3 tests/bad/make_cases.py (files are committed)."""
import json, os, struct, sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "cases")
os.makedirs(OUT, exist_ok=True)
for f in os.listdir(OUT):
    os.unlink(os.path.join(OUT, f))

def case(name, ext, data, cmd, stderr, status=1, stdout=None, env=None, note=None):
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(OUT, name + "." + ext), "wb") as f:
        f.write(data)
    with open(os.path.join(OUT, name + ".expect"), "w") as f:
        if note:
            f.write("# %s\n" % note)
        f.write("file: %s.%s\n" % (name, ext))
        f.write("cmd: %s\n" % cmd)
        f.write("status: %d\n" % status)
        if env:
            f.write("env: %s\n" % env)
        if stderr is not None:
            f.write("stderr: %s\n" % stderr)
        if stdout:
            f.write("stdout: %s\n" % stdout)

# ------------------------------------------------------------ safetensors
def st_raw(header, data=b"", pad=True):
    h = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    while pad and len(h) % 8:
        h += b" "
    return struct.pack("<Q", len(h)) + h + data

def f32(*v): return struct.pack("<%df" % len(v), *v)

def st(tensors, meta=True):
    """tensors: (name, dtype, shape, bytes[, offsets])"""
    hdr = {"__metadata__": {"format": "pt"}} if meta else {}
    off, data = 0, b""
    for t in tensors:
        n, dt, sh, b = t[:4]
        offs = t[4] if len(t) > 4 else [off, off + len(b)]
        hdr[n] = {"dtype": dt, "shape": sh, "data_offsets": offs}
        off += len(b)
        data += b
    return st_raw(hdr, data)

W = f32(*[0.1 * i for i in range(12)])   # fc.weight [3, 4]
B = f32(0.5, -0.5, 0.25)                 # fc.bias [3]
good = [("fc.weight", "F32", [3, 4], W), ("fc.bias", "F32", [3], B)]
IW = "infer-weights cls"
ST = "safetensors"
case("st_empty", ST, b"", IW, r"st_empty\.safetensors: error: empty file")
case("st_short", ST, b"\x10\x00\x00", IW, r"st_short\.safetensors: error: file too short .*3 bytes")
full = st(good)
case("st_truncated_header", ST, full[:40], IW, r"header length [0-9]+ runs past the end of the file \(size 40\)")
case("st_truncated_data", ST, full[:-6], IW, r"tensor 'fc\.bias': data_offsets \[48, 60\] out of range \(data section is 54 bytes\)")
case("st_hdrlen_past_end", ST, struct.pack("<Q", 1000) + b"{}", IW, r"header length 1000 runs past the end of the file \(size 10\)")
case("st_hdrlen_huge", ST, b"\xff" * 8 + b"{}      ", IW, r"header length 18446744073709551615 runs past the end")
case("st_offsets_out_of_range", ST, st([good[0], ("fc.bias", "F32", [3], B, [48, 4096])]), IW,
     r"tensor 'fc\.bias': data_offsets \[48, 4096\] out of range")
case("st_offsets_reversed", ST, st([good[0], ("fc.bias", "F32", [3], B, [60, 48])]), IW,
     r"tensor 'fc\.bias': data_offsets \[60, 48\] end before they begin")
case("st_offsets_overlap", ST, st([good[0], ("fc.bias", "F32", [3], B, [36, 48])]), IW,
     r"tensors 'fc\.weight' and 'fc\.bias' overlap")
case("st_offsets_misaligned", ST, st([good[0], ("fc.bias", "F32", [3], B, [49, 60])]), IW,
     r"tensor 'fc\.bias': shape \[3\] of F32 needs 12 bytes but data_offsets \[49, 60\] hold 11")
case("st_offsets_not_integers", ST, st([good[0], ("fc.bias", "F32", [3], B, [48.0, "60"])]), IW,
     r"tensor 'fc\.bias': \"data_offsets\" must be \[begin, end\]")
case("st_unknown_dtype", ST, st([("fc.weight", "Q4", [3, 4], W), good[1]]), IW,
     r"tensor 'fc\.weight': unsupported dtype 'Q4'")
case("st_dtype_not_string", ST, st_raw({"fc.weight": {"dtype": 32, "shape": [3, 4], "data_offsets": [0, 48]}}, W), IW,
     r"tensor 'fc\.weight': \"dtype\" must be a string")
case("st_wrong_shape", ST, st([("fc.weight", "F32", [4, 3], W), good[1]]), IW,
     r"st_wrong_shape\.safetensors: error: tensor 'fc\.weight' has shape \[4, 3\], the model expects \[3, 4\]",
     note="names the tensor and both shapes")
case("st_wrong_ndim", ST, st([("fc.weight", "F32", [12], W), good[1]]), IW,
     r"st_wrong_ndim\.safetensors: error: tensor 'fc\.weight' has shape \[12\], the model expects \[3, 4\]")
case("st_missing_tensor", ST, st([good[0]]), IW,
     r"st_missing_tensor\.safetensors: error: missing tensor 'fc\.bias' \(shape \[3\]\)")
case("st_unexpected_tensor", ST, st(good + [("fc2.weight", "F32", [1], f32(1))]), IW,
     r"st_unexpected_tensor\.safetensors: error: unexpected tensor 'fc2\.weight': the model has no such parameter")
case("st_bad_json", ST, st_raw(b'{"fc.weight": {"dtype": "F32",,}}'), IW, r"malformed JSON at byte offset [0-9]+")
case("st_header_not_object", ST, st_raw(b'[1, 2, 3]'), IW, r"the header is not a JSON object")
case("st_shape_negative", ST, st([("fc.weight", "F32", [-3, 4], W), good[1]]), IW,
     r"tensor 'fc\.weight': shape dimension 0 is not a non-negative integer")
case("st_shape_overflow", ST, st([("fc.weight", "F32", [2**40, 2**40], W), good[1]]), IW,
     r"tensor 'fc\.weight': shape \[1099511627776, 1099511627776\] is too large")
case("st_too_many_dims", ST, st([("fc.weight", "F32", [1] * 9, W), good[1]]), IW,
     r"tensor 'fc\.weight': shape has 9 dimensions")
case("st_duplicate_name", ST, st_raw(b'{"fc.bias":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},'
                                     b'"fc.bias":{"dtype":"F32","shape":[3],"data_offsets":[12,24]}}', B + B), IW,
     r"'fc\.bias'.*duplicate")
case("st_nul_in_name", ST, st_raw(b'{"fc.bias\\u0000x":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}', B), IW,
     r"name contains a NUL character")
case("st_build_wrong_shape", ST, st([("fc.weight", "F32", [3, 5], W + f32(0, 0, 0)), good[1]]), "build-weights cls",
     r"st_build_wrong_shape\.safetensors: error: tensor 'fc\.weight' has shape \[3, 5\], the model expects \[3, 4\]",
     note="nnc build --weights: compile-time strict load, the programs' loader and wording")
case("st_build_truncated", ST, full[:-1], "build-weights cls",
     r"st_build_truncated\.safetensors: error: tensor 'fc\.bias': data_offsets \[48, 60\] out of range")
case("st_init_unknown_dtype", ST, st([("fc.weight", "U8", [3, 4], bytes(12)), good[1]]), "init cls",
     r"st_init_unknown_dtype\.safetensors: error: tensor 'fc\.weight': unsupported dtype 'U8'", note="PROG train --init")

# ------------------------------------------------------------ CSV
CSV = "csv"
case("csv_empty", CSV, "", "eval cls", r"csv_empty\.csv.*(empty|no samples)")
case("text_too_short", "txt", "ab", "train txt",
     r"text_too_short\.txt: error: 2 bytes make no sample of text\(context = 4\)",
     note="text(path, 4) needs 5 bytes for a sample; one 'error:' in the message")
case("csv_blank_lines", CSV, "\n\n  \n", "eval cls", r"csv_blank_lines\.csv.*(empty|no samples)")
case("csv_non_numeric", CSV, "0.1,0.2,0.3,0.4,0\n1,0,abc,1,1\n", "eval cls",
     r"csv_non_numeric\.csv:2:5: error: .*abc", note="file:line:column of the cell")
case("csv_empty_cell", CSV, "0.1,0.2,0.3,0.4,0\n1,,0,1,1\n", "eval cls", r"csv_empty_cell\.csv:2:3")
case("csv_ragged", CSV, "0.1,0.2,0.3,0.4,0\n1,0,1,1\n", "eval cls", r"csv_ragged\.csv:2(:[0-9]+)?: error: .*(4|5)")
case("csv_ragged_long", CSV, "0.1,0.2,0.3,0.4,0\n1,0,1,1,1,2\n", "eval cls", r"csv_ragged_long\.csv:2(:[0-9]+)?: error: ")
case("csv_truncated", CSV, "0.1,0.2,0.3,0.4,0\n1,0,1", "eval cls", r"csv_truncated\.csv:2(:[0-9]+)?: error: ")
case("csv_label_out_of_range", CSV, "0.1,0.2,0.3,0.4,0\n1,0,0,1,7\n", "eval cls",
     r"csv_label_out_of_range\.csv:2: error: class label 7 is out of range for a model with 3 outputs")
case("csv_label_negative", CSV, "0.1,0.2,0.3,0.4,-1\n", "train cls", r"csv_label_negative\.csv:1(:[0-9]+)?: error: .*-1")
case("csv_label_not_integer", CSV, "0.1,0.2,0.3,0.4,1.5\n", "eval cls", r"csv_label_not_integer\.csv:1:17: error: .*1\.5")
case("csv_nan", CSV, "0.1,nan,0.3,0.4,1\n", "eval cls", r"csv_nan\.csv:1:5: error: .*nan")
case("csv_overflow", CSV, "0.1,1e999,0.3,0.4,1\n", "eval cls", r"csv_overflow\.csv:1:5: error: .*1e999")
case("csv_wrong_width", CSV, "0.1,0.2,0.3,1\n1,2,3,0\n", "eval cls",
     r"csv_wrong_width\.csv(:[0-9]+)?: error: .*(4.*found 3|3 values.*needs 4)")
case("csv_binary", CSV, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "eval cls", r"csv_binary\.csv:1(:[0-9]+)?: error: ")
case("csv_infer_non_numeric", CSV, "1,2,3,4\n1,2,x,4\n", "infer cls", r":2:5: .*'x'|:2:5: .*x")
case("csv_infer_ragged", CSV, "1,2,3,4\n1,2,3\n", "infer cls", r":2(:[0-9]+)?: ")

# ------------------------------------------------------------ IDX
def idx_img(count, rows, cols, pix=None, magic=0x803):
    if pix is None:
        pix = bytes((i * 7) % 256 for i in range(count * rows * cols))
    return struct.pack(">IIII", magic, count, rows, cols) + pix
def idx_lab(labels, count=None, magic=0x801):
    return struct.pack(">II", magic, len(labels) if count is None else count) + bytes(labels)
I = "idx"
case("idx_images_empty", I, b"", "eval-images img", r"idx_images_empty\.idx: error: empty file")
case("idx_images_short_header", I, idx_img(4, 2, 3)[:10], "eval-images img", r"idx_images_short_header\.idx: byte offset 10: error: file too short for an IDX image header \(10 bytes")
case("idx_images_bad_magic", I, idx_img(4, 2, 3, magic=0x801), "eval-images img", r"byte offset 0: error: bad magic number 0x00000801 \(expected 0x00000803")
case("idx_images_gzip", I, b"\x1f\x8b\x08\x00" + bytes(40), "eval-images img", r"bad magic number 0x1F8B0800")
case("idx_images_count_too_big", I, idx_img(4, 2, 3)[:16 + 18], "eval-images img",
     r"idx_images_count_too_big\.idx: byte offset 34: error: the header announces 4 images of 2x3 \(24 bytes of pixels\) but the file holds 18 bytes")
case("idx_images_count_too_small", I, idx_img(4, 2, 3) + bytes(6), "eval-images img",
     r"byte offset 40: error: the header announces 4 images of 2x3 .* holds 30 bytes")
case("idx_images_huge_counts", I, struct.pack(">IIII", 0x803, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF) + bytes(16), "eval-images img",
     r"announces 4294967295 images of 4294967295x4294967295")
case("idx_images_zero_pixels", I, struct.pack(">IIII", 0x803, 4, 0, 3), "eval-images img", r"hold no pixels")
case("idx_images_zero_count", I, struct.pack(">IIII", 0x803, 0, 2, 3), "eval-images img", r"no samples")
case("idx_images_wrong_size", I, idx_img(4, 2, 2), "eval-images img", r"idx_images_wrong_size\.idx(: byte [0-9]+)?: .*4 values.*needs 6")
case("idx_labels_empty", I, b"", "eval-labels img", r"idx_labels_empty\.idx: error: empty file")
case("idx_labels_bad_magic", I, idx_lab([1, 2, 3, 4], magic=0x803), "eval-labels img", r"bad magic number 0x00000803 \(expected 0x00000801")
case("idx_labels_count_vs_size", I, idx_lab([1, 2, 3, 4], count=400), "eval-labels img",
     r"idx_labels_count_vs_size\.idx: byte offset 12: error: the header announces 400 labels but the file holds 4 bytes")
case("idx_labels_count_vs_images", I, idx_lab([1, 2, 3]), "eval-labels img", r"byte offset 4: error: 3 labels, but .* has 4 images")
case("idx_labels_out_of_range", I, idx_lab([1, 2, 12, 4]), "eval-labels img",
     r"idx_labels_out_of_range\.idx: byte 10: error: class label 12 is out of range for a model with 10 outputs")
case("idx_labels_truncated", I, idx_lab([1, 2, 3, 4])[:6], "eval-labels img", r"idx_labels_truncated\.idx: byte offset 6: error: file too short for an IDX label header \(6 bytes")

# ------------------------------------------------------------ .nnet
N = "nnet"
head = "model m {\n    input [4]\n"
case("nnet_empty", N, "", "check", r"nnet_empty\.nnet.*(no model|empty)")
case("nnet_absurd_linear", N, head + "    linear(100000000000, 10)\n}\n", "check",
     r"nnet_absurd_linear\.nnet:3:[0-9]+: .*100000000000")
case("nnet_absurd_conv", N, "model m {\n    input [3, 32, 32]\n    conv2d(3, 1000000, 1000, padding = 500)\n}\n", "check",
     r"nnet_absurd_conv\.nnet:3:[0-9]+: .*(too large|limit|exceeds)")
case("nnet_shape_overflow", N, "model m {\n    input [9223372036854775807, 2]\n    flatten\n}\n", "check",
     r"nnet_shape_overflow\.nnet:2:[0-9]+: ")
case("nnet_mul_overflow", N, "let a = 4611686018427387904 * 4\n" + head + "    linear(4, a)\n}\n", "check",
     r"nnet_mul_overflow\.nnet:1:[0-9]+: .*overflow")
case("nnet_int_literal_overflow", N, head + "    linear(4, 99999999999999999999999)\n}\n", "check",
     r"nnet_int_literal_overflow\.nnet:3:[0-9]+: ")
case("nnet_real_overflow", N, head + "    leaky_relu(1e999)\n}\n", "check", r"nnet_real_overflow\.nnet:3:[0-9]+: ")
case("nnet_div_inexact", N, head + "    linear(4, 7 / 2)\n}\n", "check", r"nnet_div_inexact\.nnet:3:[0-9]+: ")
case("nnet_div_zero", N, head + "    linear(4, 7 / 0)\n}\n", "check", r"nnet_div_zero\.nnet:3:[0-9]+: ")
case("nnet_negative_size", N, head + "    linear(4, -3)\n}\n", "check", r"nnet_negative_size\.nnet:3:[0-9]+: ")
case("nnet_zero_input", N, "model m {\n    input [0]\n    relu\n}\n", "check", r"nnet_zero_input\.nnet:2:[0-9]+: ")
# LANGUAGE.md §10 keys: each bad value named at its line and column
tb = ("model m {\n    input [4]\n    linear(4, 3)\n}\n\ntrain m {\n    data = csv(\"d.csv\")\n"
      "    optimizer = sgd(lr = 0.1)\n")
for name, item, want in [
        ("sched_unknown", 'loss = cross_entropy\n    schedule = exponential(0.9)', "unknown schedule 'exponential'"),
        ("sched_zero", 'loss = cross_entropy\n    schedule = cosine(0)', "t_max.*integer >= 1"),
        ("sched_per", 'loss = cross_entropy\n    schedule = steplr(2, per = "batch")', "per must be"),
        ("sched_mixed_per", 'loss = cross_entropy\n    schedule = [linear_warmup(2, per = "step"), cosine(5)]',
         "same per"),
        ("sched_onecycle_args", 'loss = cross_entropy\n    schedule = onecycle(0.1)', "missing argument 'total_steps'"),
        ("smoothing_range", 'loss = cross_entropy(label_smoothing = 1.5)', r"label_smoothing must be in \[0, 1\]"),
        ("smoothing_other_loss", 'loss = mse(label_smoothing = 0.1)', "takes no arguments"),
        ("ce_unknown_keyword", 'loss = cross_entropy(smoothing = 0.1)', "smoothing"),
        ("clip_negative", 'loss = cross_entropy\n    clip_grad_norm = -1', "positive"),
        ("early_zero", 'loss = cross_entropy\n    early_stopping = 0', "out of range"),
        ("checkpoint_empty", 'loss = cross_entropy\n    checkpoint = ""', "path is empty"),
        ("key_typo", 'loss = cross_entropy\n    epoch = 5', "did you mean 'epochs'"),
        ("key_optimizer_arg", 'loss = cross_entropy\n    betas = [0.9, 0.99]', "the optimizer takes it"),
        ("python_bool", 'loss = cross_entropy\n    shuffle = False', "booleans are written 'false'")]:
    text = tb + "    " + item + "\n}\n"
    line = text[:text.index(item.split("\n")[-1])].count("\n") + 1
    case("nnet_train_" + name, N, text, "check", r"nnet_train_%s\.nnet:%d:[0-9]+: .*%s" % (name, line, want))
case("nnet_deep_parens", N, "let a = " + "(" * 100000 + "1" + ")" * 100000 + "\n", "check",
     r"nnet_deep_parens\.nnet:1:[0-9]+: .*(deep|nest)")
case("nnet_deep_lists", N, head + "    linear(4, 1, weight = " + "[" * 50000 + "]" * 50000 + ")\n}\n", "check",
     r"nnet_deep_lists\.nnet:3:[0-9]+: .*(deep|nest)")
case("nnet_long_sum", N, "let a = " + "1 + " * 200000 + "x\n", "check", r"nnet_long_sum\.nnet:1:[0-9]+: ",
     note="a left-leaning tree 200000 deep: no recursion may overflow the stack")
case("nnet_non_utf8", N, b"model m {\n    input [4]\n    r\xffelu\n}\n", "check", r"nnet_non_utf8\.nnet:3:[0-9]+: .*(xff|byte)")
case("nnet_non_utf8_name", N, b"let caf\xc3\xa9 = 1\n", "check", r"nnet_non_utf8_name\.nnet:1:8: .*(xc3|byte)")
case("nnet_unterminated_string", N, 'model m {\n    input [4]\n}\ntrain m {\n    save = "w.safetensors\n}\n', "check",
     r"nnet_unterminated_string\.nnet:5:[0-9]+: .*(string|quote)")
case("nnet_string_at_eof", N, 'let s = "never closed', "check", r"nnet_string_at_eof\.nnet:1:9: .*(string|quote)")
case("nnet_nul_byte", N, b"model m {\n    input [4]\n    relu\x00\n}\n", "check", r"nnet_nul_byte\.nnet:3:[0-9]+: .*(x00|NUL|byte)")
case("nnet_truncated", N, head + "    linear(4,", "check", r"nnet_truncated\.nnet:3:[0-9]+: .*(end of file|unexpected)")
case("nnet_binary", N, bytes(range(256)) * 4, "check", r"nnet_binary\.nnet:1:[0-9]+: ")
case("nnet_params_limit", N, "model m {\n    input [1000]\n    linear(1000, 1000)\n}\n", "check",
     r"nnet_params_limit\.nnet:[0-9]+:[0-9]+: .*(100000|1001000).*(500000)", env="NNC_MAX_FLOATS=500000",
     note="a configurable limit (NNC_MAX_FLOATS) on the parameters, named in the message")
case("nnet_arena_limit", N, "model m {\n    input [1, 100, 100]\n    conv2d(1, 16, 3, padding = 1)\n    relu\n"
     "    conv2d(16, 16, 3, padding = 1)\n    relu\n}\n", "check",
     r"nnet_arena_limit\.nnet:1:[0-9]+: .*650000 floats of activations.*limit is 500000", env="NNC_MAX_FLOATS=500000",
     note="every shape and the parameters fit the limit, the arena of one sample does not")
case("nnet_bad_limit", N, head + "    relu\n}\n", "check", r"NNC_MAX_FLOATS='lots' is not a positive integer",
     env="NNC_MAX_FLOATS=lots")

# ------------------------------------------------------------ dtypes PyTorch saves (these load: status 0)
import math
def f16(*v): return struct.pack("<%de" % len(v), *v)
def bf16(*v): return b"".join(struct.pack("<f", x)[2:] for x in v)
def f64(*v): return struct.pack("<%dd" % len(v), *v)
bnW = [1.0, 0.5, -1.0, 0.0, 2.0, 0.25]
vals = {"fc.weight": ([2, 3], bnW), "fc.bias": ([2], [0.5, -0.5]),
        "norm.weight": ([2], [1.0, 2.0]), "norm.bias": ([2], [0.0, 1.0]),
        "norm.running_mean": ([2], [0.5, -1.0]), "norm.running_var": ([2], [4.0, 0.25])}
# bn.in.csv: rows (1,2,3) and (-1,0.5,2); eps 1e-5
exp = []
for x in ([1, 2, 3], [-1, 0.5, 2]):
    row = []
    for o in range(2):
        y = sum(bnW[o * 3 + k] * x[k] for k in range(3)) + [0.5, -0.5][o]
        m, v, g, b = [0.5, -1.0][o], [4.0, 0.25][o], [1.0, 2.0][o], [0.0, 1.0][o]
        row.append((y - m) / math.sqrt(v + 1e-5) * g + b)
    exp.append(row)
# printed with %.9g; every value above is exact in F16 and BF16
DT_OUT = r"^-0\.49999[0-9]*,21\.9995[0-9]*[[:space:]]+-1\.37499[0-9]*,8\.9998[0-9]*[[:space:]]*$"
for dt, enc in (("F16", f16), ("BF16", bf16), ("F64", f64), ("F32", f32)):
    ts = []
    for n, (sh, v) in vals.items():
        ts.append((n, dt, sh, enc(*v)))
    ts.append(("norm.num_batches_tracked", "I64", [], struct.pack("<q", 12)))
    case("dtype_%s_loads" % dt.lower(), ST, st(ts), "infer-weights bn", None, status=0,
         stdout=DT_OUT, note="%s tensors convert on load; the I64 num_batches_tracked is accepted" % dt)
# ------------------------------------------------------------ regressions (found by fuzzing / the sanitizer run)
case("regress_no_params_build", N, open(os.path.join(HERE, "..", "fuzz", "regress", "nnet", "ir_clone_no_params.nnet"), "rb").read(),
     "build", None, status=0,
     note="a model without parameters: ir_clone passed memcpy a NULL source (UBSan nonnull-attribute)")

case("regress_no_layers_build", N, "model m {\n    input [4]\n}\n", "build", None, status=0,
     note="a model without layers: ir_clone passed memcpy a NULL node array (UBSan nonnull-attribute)")
case("regress_literal_weight_huge", N, head + "    linear(4100000000000, 4, weight = [[0.5, -0.2]])\n}\n", "check",
     r"regress_literal_weight_huge\.nnet:3:5: error: linear weight: parameter '0\.weight' is too large \(16400000000000 floats",
     note="found by fuzz_nnet: the literal's buffer was allocated before the size check (nnc: out of memory, SIGABRT)")
case("regress_param_numel_overflow", N, head + "    linear(9223372036854775807, 3)\n}\n", "check",
     r"regress_param_numel_overflow\.nnet:3:5: error: linear: parameter '0\.weight' is too large \(more than",
     note="op_param multiplied the shape without an overflow check (UBSan signed-integer-overflow)")
case("regress_duplicate_freeze", N, 'model m {\n    input [2]\n    fc = linear(2, 2)\n}\ntrain m {\n'
     '    loss = mse\n    optimizer = sgd(lr = 0.1)\n    freeze = ["fc", 0]\n    freeze = ["fc", 0, 0]\n}\n', "check",
     r"regress_duplicate_freeze\.nnet:9:5: error: 'freeze' is given twice",
     note="found by fuzz_nnet: a second freeze list was appended past the end of the first one's allocation")

# ------------------------------------------------------------ graph models (LANGUAGE.md §7-§8)
def fwd(inputs, body, layers=""):
    return "model m {\n" + "".join("    input %s\n" % i for i in inputs) + layers + \
        "    forward {\n" + body + "    }\n}\n"
case("graph_too_many_inputs", N, fwd(["x%d [2]" % i for i in range(9)], "        return x0\n"), "check",
     r"graph_too_many_inputs\.nnet:10:5: error: a model has at most 8 inputs")
case("graph_too_many_outputs", N, fwd(["x [2]"], "        return " + ", ".join(["x"] * 9) + "\n"), "check",
     r"graph_too_many_outputs\.nnet:4:9: error: at most 8 values can be returned")
case("graph_return_tuple", N, fwd(["x [4]"], "        return split(x, 2, 1)\n"), "check",
     r"graph_return_tuple\.nnet:4:16: error: this gives 2 values; assign them to names first")
case("graph_split_pieces", N, fwd(["x [10000]"], "        a = split(x, 1, 1)\n        return x\n"), "check",
     r"graph_split_pieces\.nnet:4:13: error: split: more than 4096 pieces")
case("graph_split_sections", N, fwd(["x [5]"], "        a, b = split(x, [2, 2], 1)\n        return a\n"), "check",
     r"graph_split_sections\.nnet:4:25: error: split: the sections sum to 4, but dimension 1 has 5")
case("graph_input_no_shape", N, fwd(["x"], "        return x\n"), "check",
     r"graph_input_no_shape\.nnet:2:11: error: input 'x' of a model needs its shape")
case("graph_unnamed_input", N, "model m {\n    input [2]\n    forward {\n        return x\n    }\n}\n", "check",
     r"graph_unnamed_input\.nnet:2:5: error: with forward, each input is named")
case("graph_two_inputs_no_forward", N, "model m {\n    input [2]\n    input [3]\n    relu\n}\n", "check",
     r"graph_two_inputs_no_forward\.nnet:3:5: error: a model with several inputs says how they flow in a forward block")
case("graph_block_input_shape", N, "block b(c) {\n    input x [4]\n    fc = linear(c, c)\n    forward {\n"
     "        return fc(x)\n    }\n}\nmodel m {\n    input [4]\n    b(4)\n}\n", "check",
     r"graph_block_input_shape\.nnet:2:13: error: a block's input takes its shape from the caller")
case("graph_block_twice", N, "block b(c) {\n    relu\n}\nblock b(c) {\n    tanh\n}\nmodel m {\n    input [4]\n    b(4)\n}\n",
     "check", r"graph_block_twice\.nnet:4:7: error: block 'b' is defined twice")
case("graph_block_op_name", N, "block linear(c) {\n    relu\n}\nmodel m {\n    input [4]\n    relu\n}\n",
     "check", r"graph_block_op_name\.nnet:1:7: error: block 'linear' has the name of a layer")
deep = "".join("block b%d(c) {\n    b%d(c)\n}\n" % (i, i + 1) for i in range(70)) + "block b70(c) {\n    relu\n}\n"
case("graph_blocks_too_deep", N, deep + "model m {\n    input [4]\n    b0(4)\n}\n", "check",
     r"graph_blocks_too_deep\.nnet:[0-9]+:5: error: blocks nested too deeply")
case("graph_chain_of_calls", N, fwd(["x [4]"], "        h = x\n" + "        h = fc(h)\n" * 3000 + "        return h\n",
                                     "    fc = linear(4, 4)\n"), "check", None, status=0,
     note="a layer called 3000 times: 3000 nodes sharing two parameters")
case("graph_sequential_keyword", N, "model m {\n    input [4]\n    s = sequential(relu, p = 1)\n}\n", "check",
     r"graph_sequential_keyword\.nnet:3:26: error: sequential takes layers, not keyword arguments")
case("graph_sequential_number", N, "model m {\n    input [4]\n    s = sequential(relu, 3)\n}\n", "check",
     r"graph_sequential_number\.nnet:3:26: error: sequential: an item must be a layer")
case("graph_attr_outside", N, "let a = fc.weight\nmodel m {\n    input [4]\n    relu\n}\n", "check",
     r"graph_attr_outside\.nnet:1:9: error: a layer's parameter \('weight'\) can only be a layer's weight or bias argument")
case("graph_matmul_numbers", N, "let a = 2 @ 3\nmodel m {\n    input [4]\n    relu\n}\n", "check",
     r"graph_matmul_numbers\.nnet:1:9: error: operator '@' multiplies tensor values")
# ------------------------------------------------------------ version-2 layers (LANGUAGE.md §9)
def layer_case(name, shape, layer, err, col=5):
    """col: the caret's column (the layer, or the argument at fault)"""
    case(name, N, "model m {\n    input %s\n    %s\n}\n" % (shape, layer), "check",
         r"%s\.nnet:3:%d: error: %s" % (name, col, err))
layer_case("layer_upsample_mode", "[2, 4, 4]", 'upsample(2, mode = "bicubic")',
           r'upsample: mode "bicubic" is not supported; nnc supports "nearest", "linear" and "bilinear"', 24)
layer_case("layer_upsample_bilinear_rank", "[2, 4]", 'upsample(2, mode = "bilinear")',
           r'upsample: mode "bilinear" expects a \[channels, height, width\] input, but its input has shape \[2, 4\]')
layer_case("layer_upsample_align_nearest", "[2, 4, 4]", 'upsample(2, align_corners = true)',
           r'upsample: align_corners applies to mode "linear" and "bilinear" only', 33)
layer_case("layer_conv_groups", "[4, 8, 8]", "conv2d(4, 6, 3, groups = 4)",
           r"conv2d: groups = 4 must be positive and divide in_channels \(4\) and out_channels \(6\)", 30)
layer_case("layer_conv_same_stride", "[1, 8, 8]", 'conv2d(1, 2, 3, stride = 2, padding = "same")',
           r'conv2d: padding = "same" needs stride 1', 43)
layer_case("layer_conv1d_rank", "[3, 8, 8]", "conv1d(3, 4, 3)",
           r"conv1d expects a \[channels, length\] input, but its input has shape \[3, 8, 8\]")
layer_case("layer_conv_transpose_opad", "[2, 4, 4]", "conv_transpose2d(2, 2, 3, stride = 2, output_padding = 2)",
           r"conv_transpose2d: output_padding \(2\) must be smaller than either stride \(2\) or dilation \(1\)", 60)
layer_case("layer_layernorm_shape", "[3, 5]", "layernorm(4)",
           r"layernorm\(\[4\]\) normalises the last dimensions \[4\], but its input has shape \[3, 5\]")
layer_case("layer_adaptive_rank", "[3, 5]", "adaptive_avg_pool2d(2)",
           r"adaptive_avg_pool2d expects a \[channels, height, width\] input")

print("wrote", len([f for f in os.listdir(OUT) if f.endswith(".expect")]), "cases")
print("expected bn output:", exp)
